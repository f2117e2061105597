"""Embedding cache misses on a Ray cluster (`executor: ray`).

Only the misses travel: the driver reads the SQLite embedding cache, ships the texts it
lacks through `ray.data` `map_batches` to a pool of actors that each build the configured
embedder once (the model loads lazily, on the actor's first batch), and writes the vectors
back into the cache as batches stream home. SQLite therefore keeps a single writer. Given a
ShardJob, each actor also indexes its batch in a FAISS sub-index under the chunk ids, which
the driver merges (index/shards.py).

Ray retries a batch whose worker died (Ray Data restarts map actors without limit), so a
lost worker costs time, not vectors. Workers import this module, so linkrag must be
installed on every node; an embedder added through `register_embedder` exists only in the
driver, so such embedders cannot run on Ray.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any, overload

import numpy as np

from index.embedders import get_embedder
from index.settings import IndexSettings, RaySettings
from index.shards import ShardJob, ShardRunner, load_template, sub_index
from index.types import IndexBuildError
from ingest.ray_cluster import connected, import_ray

log = logging.getLogger(__name__)

# from_items builds every block on the driver before any runs: a cap on rows per block keeps
# each one small (~25 MB of text) at millions of misses, where 4 blocks a worker were 300 MB.
_ROWS_PER_BLOCK = 20_000


class EmbedWorker:
    """One Ray actor's embedder: built once per actor, the model loaded on the first batch.
    Batches that carry chunk ids ("keys") also come back with a sub-index of their vectors,
    in the first row of a "shard" column (the other rows are empty)."""

    def __init__(self, settings: IndexSettings, template: bytes | None = None) -> None:
        self._embedder = get_embedder(settings)
        self._template = load_template(template)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts = [str(text) for text in batch["text"]]
        vectors = self._embedder.embed_batch(texts)
        out = {"hash": batch["hash"], "vector": vectors}
        if "keys" in batch:
            shard = np.full(len(texts), b"", dtype=object)
            shard[0] = sub_index(self._template, vectors, list(batch["keys"]))
            out["shard"] = shard
        return out


def ray_runner(settings: IndexSettings, cluster: RaySettings, embedder_id: str) -> ShardRunner:
    """Embeds misses on `cluster` with the embedder `settings` name; with a ShardJob (not
    None), the workers also build the sub-indexes it asks for."""
    ray = import_ray()
    remote_id = get_embedder(settings).id  # cheap: nothing is loaded until the first embed
    if remote_id != embedder_id:
        raise IndexBuildError(
            f"executor: ray embeds with index.embedder ({remote_id}) on the workers, but this "
            f"build was given {embedder_id}: set index.embedder to it, or use executor: local"
        )
    stage = cluster.embed
    # The actor's threads match the CPUs it reserves, so workers do not oversubscribe a node.
    worker = settings.model_copy(update={"threads": max(1, round(stage.cpus_per_worker))})

    def run(
        hashes: list[str], texts: Sequence[str], job: ShardJob | None
    ) -> Iterator[tuple[list[str], np.ndarray]]:
        with connected(ray, cluster.address):
            rows = _Rows(hashes, texts, job)
            wanted = max(4 * stage.concurrency, len(rows) // _ROWS_PER_BLOCK)
            blocks = max(1, min(len(rows) // stage.batch_size, wanted))
            data = ray.data.from_items(rows, override_num_blocks=blocks).map_batches(
                EmbedWorker,
                fn_constructor_kwargs={"settings": worker, "template": job and job.template},
                batch_size=stage.batch_size,
                compute=ray.data.ActorPoolStrategy(size=stage.concurrency),
                num_cpus=stage.cpus_per_worker,
                batch_format="numpy",
            )
            for batch in data.iter_batches(batch_size=None, batch_format="numpy"):
                if job is not None:
                    for blob in batch.get("shard", ()):
                        if len(blob):  # only a batch's first row carries its sub-index
                            job.sink(bytes(blob))
                yield [str(h) for h in batch["hash"]], np.asarray(batch["vector"], np.float32)

    return run


class _Rows(Sequence[dict[str, Any]]):
    """The dataset rows: text hash, text, and (for sub-indexes) the chunk ids of that text.
    Made one by one as `from_items` (which only takes len() and indexes) puts them into
    blocks: a list of them would hold every miss's text on the driver while Ray embeds."""

    def __init__(self, hashes: list[str], texts: Sequence[str], job: ShardJob | None) -> None:
        if len(hashes) != len(texts):
            raise ValueError(f"{len(hashes)} hashes but {len(texts)} texts")
        self._hashes, self._texts, self._job = hashes, texts, job

    def __len__(self) -> int:
        return len(self._hashes)

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, i: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, i: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        row: dict[str, Any] = {"hash": self._hashes[i], "text": self._texts[i]}
        if self._job is not None:
            row["keys"] = self._job.keys[row["hash"]]
        return row
