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
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import numpy as np

from index.embedders import get_embedder
from index.settings import IndexSettings, RaySettings
from index.shards import ShardJob, ShardRunner, load_template, sub_index
from index.types import IndexBuildError

log = logging.getLogger(__name__)


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


def import_ray() -> ModuleType:
    """Ray with Ray Data, or a one-line error naming the fix."""
    try:
        import ray
        import ray.data  # map_batches lives here; a bare `ray` install lacks it
    except ImportError as exc:
        raise IndexBuildError(
            f"executor: ray needs Ray ({exc.msg}): pip install 'linkrag[ray]', or set "
            "executor: local"
        ) from exc
    module: ModuleType = ray  # mypy does not follow into Ray (pyproject), so name the type
    return module


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
        hashes: list[str], texts: list[str], job: ShardJob | None
    ) -> Iterator[tuple[list[str], np.ndarray]]:
        with _connected(ray, cluster.address):
            rows = _rows(hashes, texts, job)
            blocks = max(1, min(len(rows) // stage.batch_size, 4 * stage.concurrency))
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


def _rows(hashes: list[str], texts: list[str], job: ShardJob | None) -> list[dict[str, Any]]:
    """The dataset rows: text hash, text, and (for sub-indexes) the chunk ids of that text."""
    rows: list[dict[str, Any]] = [
        {"hash": h, "text": t} for h, t in zip(hashes, texts, strict=True)
    ]
    if job is not None:
        for row in rows:
            row["keys"] = job.keys[row["hash"]]
    return rows


@contextmanager
def _connected(ray: Any, address: str) -> Iterator[None]:
    """Joins the cluster for the duration of the embedding (a session already open is reused)."""
    if ray.is_initialized():
        yield
        return
    try:
        ray.init(address=address or None, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = address or "a new local Ray"
        raise IndexBuildError(
            f"cannot start Ray at {where} ({str(exc).splitlines()[0]}): check ray.address, "
            "or start the cluster with `ray start --head`"
        ) from exc
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the build reports its own progress
        context.print_on_execution_start = False
        yield
    finally:
        ray.shutdown()
