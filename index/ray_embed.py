"""Embedding cache misses on a Ray cluster (`executor: ray`).

Only the misses travel: the driver reads the SQLite embedding cache, ships the texts it
lacks through `ray.data` `map_batches` to a pool of actors that each build the configured
embedder once (the model loads lazily, on the actor's first batch), and writes the vectors
back into the cache as batches stream home. SQLite therefore keeps a single writer, and
the FAISS index is built on the driver exactly as a local build does.

Ray retries a batch whose worker died (Ray Data restarts map actors without limit), so a
lost worker costs time, not vectors. Workers import this module, so linkrag must be
installed on every node; an embedder added through `register_embedder` exists only in the
driver, so such embedders cannot run on Ray.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np

from index.cache import MissRunner
from index.embedders import get_embedder
from index.settings import IndexSettings, RaySettings
from index.types import IndexBuildError
from ingest.ray_cluster import connected, import_ray

log = logging.getLogger(__name__)


class EmbedWorker:
    """One Ray actor's embedder: built once per actor, the model loaded on the first batch."""

    def __init__(self, settings: IndexSettings) -> None:
        self._embedder = get_embedder(settings)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts = [str(text) for text in batch["text"]]
        return {"hash": batch["hash"], "vector": self._embedder.embed_batch(texts)}


def ray_runner(settings: IndexSettings, cluster: RaySettings, embedder_id: str) -> MissRunner:
    """A MissRunner embedding on `cluster` with the embedder `settings` name."""
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

    def run(hashes: list[str], texts: list[str]) -> Iterator[tuple[list[str], np.ndarray]]:
        with connected(ray, cluster.address):
            rows = [{"hash": h, "text": t} for h, t in zip(hashes, texts, strict=True)]
            blocks = max(1, min(len(rows) // stage.batch_size, 4 * stage.concurrency))
            data = ray.data.from_items(rows, override_num_blocks=blocks).map_batches(
                EmbedWorker,
                fn_constructor_kwargs={"settings": worker},
                batch_size=stage.batch_size,
                compute=ray.data.ActorPoolStrategy(size=stage.concurrency),
                num_cpus=stage.cpus_per_worker,
                batch_format="numpy",
            )
            for batch in data.iter_batches(batch_size=None, batch_format="numpy"):
                yield [str(h) for h in batch["hash"]], np.asarray(batch["vector"], np.float32)

    return run
