"""FAISS sub-indexes built where the vectors are embedded, merged on the driver (`executor: ray`).

Each Ray batch of cache misses comes home with its vectors (for the SQLite cache, which
keeps a single writer) and a serialized FAISS sub-index of them under their chunk ids; the
driver merges the sub-indexes with `merge_from` into an index of exactly the kind a local
build makes, so incremental `remove_ids` keeps working:
- flat: each worker fills an `IndexIDMap2` over `IndexFlatIP`; IDMap2 `merge_from`
  appends the vectors and their ids.
- ivfpq: the driver trains the empty index first, on the same sample rows a local build
  trains on (their misses are embedded first), and ships it to the workers, which encode
  their vectors against it; IVF `merge_from` appends the codes list by list. FAISS cannot
  merge an IVF holding a direct map, so the id → code map is rebuilt once at the end.
- hnsw: a graph cannot be merged, so the driver builds it from the vectors.
Vectors the cache already held are added on the driver. Ray re-runs a batch whose worker
died; merging skips ids already merged, so a batch delivered twice is counted once.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Protocol

import numpy as np

from index.cache import CachedEmbedding, text_hash
from index.chunking import embed_text
from index.dense import (
    DenseIndex,
    DenseSettingsError,
    chunk_key,
    flat_index,
    trained_ivfpq,
    uses_ivfpq,
)
from index.settings import IndexSettings
from index.types import Chunk, IndexBuildError

if TYPE_CHECKING:
    import faiss

log = logging.getLogger(__name__)


@dataclass
class ShardJob:
    """What the workers need to index the vectors they embed, and where sub-indexes go."""

    template: bytes | None  # a trained, empty IVF-PQ index, serialized; None: flat
    keys: dict[str, list[int]]  # text hash → FAISS ids of the chunks with that text
    sink: Callable[[bytes], None]  # takes each batch's serialized sub-index as it arrives


class ShardRunner(Protocol):
    """Embeds cache misses like a MissRunner; given a job, also hands each batch's
    sub-index to `job.sink`."""

    def __call__(
        self, hashes: list[str], texts: list[str], job: ShardJob | None
    ) -> Iterator[tuple[list[str], np.ndarray]]: ...


def load_template(template: bytes | None) -> faiss.Index | None:
    """The index a worker clones for every batch (None: flat, whose size the vectors give)."""
    import faiss

    return None if template is None else faiss.deserialize_index(np.frombuffer(template, np.uint8))


def sub_index(template: faiss.Index | None, vectors: np.ndarray, keys: Sequence[object]) -> bytes:
    """A serialized sub-index of `vectors`, row i stored under every id in keys[i] (chunks
    with the same text share one embedding)."""
    import faiss

    ids = [np.asarray(k, np.int64).reshape(-1) for k in keys]
    rows = np.repeat(np.asarray(vectors, np.float32), [len(i) for i in ids], axis=0)
    dim = int(rows.shape[1])
    index = flat_index(dim) if template is None else faiss.clone_index(template)
    index.add_with_ids(np.ascontiguousarray(rows), np.concatenate(ids))
    return bytes(faiss.serialize_index(index))


class Merger:
    """Merges sub-indexes into one target index, each id once."""

    def __init__(self, target: faiss.Index | None) -> None:
        import faiss

        self.target = target
        self.merged: set[int] = set()
        self.shards = self.repeated = self.added = 0  # sub-indexes, ids skipped, rows added
        self.seconds = 0.0  # spent merging
        self._ivf = isinstance(target, faiss.IndexIVF)
        if self._ivf:
            target.set_direct_map_type(faiss.DirectMap.NoMap)  # type: ignore[union-attr,attr-defined]

    def merge(self, blob: bytes) -> None:
        import faiss

        started = time.perf_counter()
        shard = DenseIndex(faiss.deserialize_index(np.frombuffer(blob, np.uint8)))
        ids = [int(i) for i in shard.ids()]
        again = [i for i in ids if i in self.merged]
        if again:  # a retried batch, or rows Ray delivered twice
            shard.remove(again)
            self.repeated += len(again)
        if self.target is None:
            self.target = flat_index(shard.dim)
        self.target.merge_from(shard.faiss_index, 0)
        self.merged.update(ids)
        self.shards += 1
        self.seconds += time.perf_counter() - started

    def add(self, vectors: np.ndarray, keys: list[int]) -> None:
        """Add the rows whose id no sub-index brought (the cache hits)."""
        wanted = [i for i, key in enumerate(keys) if key not in self.merged]
        if self.target is None:
            self.target = flat_index(int(vectors.shape[1]))
        if wanted:
            rows = np.ascontiguousarray(vectors[wanted], np.float32)
            self.target.add_with_ids(rows, np.asarray([keys[i] for i in wanted], np.int64))
        self.merged.update(keys[i] for i in wanted)
        self.added += len(wanted)

    def finish(self, settings: IndexSettings) -> DenseIndex:
        import faiss

        if self.target is None:
            raise IndexBuildError("no vectors to index: run `linkrag ingest` first")
        started = time.perf_counter()
        if self._ivf:
            self.target.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]
        self.seconds += time.perf_counter() - started
        log.info("merged %d sub-indexes (%d ids repeated by retried batches, skipped) and "
                 "added %d cached vectors, %d in all, merging in %.3f s", self.shards,
                 self.repeated, self.added, self.target.ntotal, self.seconds)  # fmt: skip
        dense = DenseIndex(self.target)
        dense.tune(settings)
        return dense


class Sharder:
    """Builds or extends a dense index from sub-indexes that `run` has workers build."""

    def __init__(self, run: ShardRunner) -> None:
        self.run = run

    def build(
        self, chunks: list[Chunk], embed: CachedEmbedding, settings: IndexSettings
    ) -> DenseIndex:
        """A new index of the configured kind over `chunks`, like `DenseIndex.build`."""
        keys = [chunk_key(chunk.chunk_id) for chunk in chunks]
        if settings.dense == "hnsw":
            return DenseIndex.build(embed(chunks), keys, settings)
        target = None
        if uses_ivfpq(len(chunks), settings):
            try:
                target = trained_ivfpq(len(chunks), lambda rows: embed([chunks[i] for i in rows]),
                                       settings)  # fmt: skip
            except DenseSettingsError as exc:
                raise IndexBuildError(str(exc)) from exc
        return self._fill(Merger(target), chunks, keys, embed, settings)

    def extend(self, dense: DenseIndex, chunks: list[Chunk], embed: CachedEmbedding,
               settings: IndexSettings) -> DenseIndex:  # fmt: skip
        """`dense` (a flat or ivfpq index) with `chunks` added."""
        keys = [chunk_key(chunk.chunk_id) for chunk in chunks]
        return self._fill(Merger(dense.faiss_index), chunks, keys, embed, settings)

    def _fill(self, merger: Merger, chunks: list[Chunk], keys: list[int], embed: CachedEmbedding,
              settings: IndexSettings) -> DenseIndex:  # fmt: skip
        by_hash: dict[str, list[int]] = defaultdict(list)
        for chunk, key in zip(chunks, keys, strict=True):
            by_hash[text_hash(embed_text(chunk))].append(key)
        job = ShardJob(empty_copy(merger.target), by_hash, merger.merge)
        hashes = embed.ensure(chunks, runner=partial(self.run, job=job))
        del job, by_hash  # the misses are merged: what is left comes from the cache
        rest = [i for i, key in enumerate(keys) if key not in merger.merged]
        for start, block in embed.read([hashes[i] for i in rest]):
            merger.add(block, [keys[i] for i in rest[start : start + len(block)]])
        return merger.finish(settings)


def empty_copy(target: faiss.Index | None) -> bytes | None:
    """The trained, empty IVF index workers fill, serialized; None for flat."""
    import faiss

    if not isinstance(target, faiss.IndexIVF):
        return None
    empty = faiss.clone_index(target)  # one copy per build, not per batch
    empty.set_direct_map_type(faiss.DirectMap.NoMap)  # type: ignore[attr-defined]
    empty.reset()
    return bytes(faiss.serialize_index(empty))
