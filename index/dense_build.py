"""The dense half of a build: embed through the cache (locally or on Ray) into FAISS.

Vectors flow from the embedding cache into the index a block at a time, so a build holds
them once, in FAISS, rather than also as a matrix (and its copies) beside it.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from index.cache import CachedEmbedding, MissRunner, local_runner
from index.dense import DenseIndex, chunk_key
from index.embedders import Embedder
from index.settings import IndexSettings, RaySettings
from index.shards import Sharder
from index.state import Previous
from index.types import Chunk, IndexBuildError


def runners(
    embedder: Embedder, settings: IndexSettings, ray: RaySettings | None
) -> tuple[MissRunner, Sharder | None]:
    """What embeds cache misses and, on Ray, what builds the dense index from sub-indexes."""
    if ray is None:
        return local_runner(embedder, settings.batch_size), None
    from index.ray_embed import ray_runner  # deferred: a local build never imports Ray

    run = ray_runner(settings, ray, embedder.id)
    return partial(run, job=None), Sharder(run)


def dense_part(
    previous: Previous | None,
    kept: list[Chunk],
    added: list[Chunk],
    removed: list[int],
    embed: CachedEmbedding,
    settings: IndexSettings,
    sharder: Sharder | None,
) -> DenseIndex:
    """Update the previous FAISS index in place when it can remove ids, else build anew."""
    if previous is not None and kept:
        dense = DenseIndex.load(previous.dense_path, settings)
        if dense.supports_remove:
            dense.remove(removed)
            if added and sharder is not None:
                return sharder.extend(dense, added, embed, settings)
            if added:
                _add_blocks(dense, added, embed, embed.ensure(added))
            return dense
    everything = kept + added
    if sharder is not None:
        return sharder.build(everything, embed, settings)
    try:
        return _new_dense(everything, embed, settings)
    except ValueError as exc:  # e.g. a pq_m that does not divide the dimension
        raise IndexBuildError(str(exc)) from exc


def _new_dense(chunks: list[Chunk], embed: CachedEmbedding, settings: IndexSettings) -> DenseIndex:
    """A new index over `chunks`. Flat and ivfpq fill it from the cache block by block, so
    the vectors are never in memory twice; hnsw builds its graph from all of them at once."""
    hashes = embed.ensure(chunks)
    if settings.dense == "hnsw":
        return DenseIndex.build(embed.matrix(hashes), _keys(chunks), settings)

    def sample(rows: np.ndarray) -> np.ndarray:
        return embed.matrix([hashes[i] for i in rows])

    dim = int(sample(np.zeros(1, np.int64)).shape[1])
    dense = DenseIndex.empty_for(len(chunks), dim, sample, settings)
    dense.reserve(len(chunks))
    _add_blocks(dense, chunks, embed, hashes)
    return dense


def _add_blocks(
    dense: DenseIndex, chunks: list[Chunk], embed: CachedEmbedding, hashes: list[str]
) -> None:
    """Add the (cached) vectors of `chunks` in order, a block at a time."""
    for start, block in embed.read(hashes):
        dense.add(block, _keys(chunks[start : start + len(block)]))


def _keys(chunks: list[Chunk]) -> list[int]:
    return [chunk_key(chunk.chunk_id) for chunk in chunks]
