"""Sub-indexes built by the embedding workers and merged on the driver (index/shards.py).

The workers here are the real Ray worker class (EmbedWorker) called batch by batch in this
process, so the FAISS side (training on the driver, sub-indexes from a shipped template,
merge_from, a batch delivered twice) runs without a cluster; tests/test_index_ray.py runs
the same path on a real one.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from test_index_support import HashEmbedder

from index import IndexSettings, register_embedder
from index.cache import CachedEmbedding, EmbeddingCache, local_runner
from index.chunking import embed_text
from index.dense import DenseIndex, chunk_key
from index.embedders import unregister_embedder
from index.ray_embed import EmbedWorker
from index.shards import Sharder, ShardJob, ShardRunner
from index.types import Chunk

N = 1200  # above the ivfpq floor (1000)
pytestmark = pytest.mark.usefixtures("one_faiss_thread")
WORDS = ("kv", "cache", "attention", "tensor", "pipeline", "shard", "quant", "lora", "rank",
         "zero", "nccl", "gpu", "batch")  # fmt: skip


@pytest.fixture(autouse=True)
def _fake_hash() -> Iterator[None]:
    register_embedder("fake-hash", lambda settings: HashEmbedder())
    yield
    unregister_embedder("fake-hash")


def _chunks(n: int) -> list[Chunk]:
    rng = np.random.default_rng(1)
    chunks = []
    for i in range(n):
        # Every 50th chunk repeats an earlier text: one embedding, two ids in a sub-index.
        source = i - 1 if i % 50 == 49 else i
        words = np.random.default_rng(source).choice(WORDS, int(rng.integers(5, 30)))
        text = " ".join(words) + f" n{source % 97}"
        chunk_id = hashlib.sha1(f"chunk {i}".encode()).hexdigest()[:16]
        chunks.append(Chunk(chunk_id, i, f"https://x.test/{i}", "t", "", text, 0, len(text)))
    return chunks


def _settings(kind: str) -> IndexSettings:
    # 8 lists and 4-bit codes train on 624 of the 1200 rows, so the other half reaches the
    # index through sub-indexes (with more lists or bits every row would be a training row).
    extra = {"pq_m": 8, "pq_bits": 4, "ivf_nlist": 8}
    return IndexSettings.model_validate({"embedder": "fake-hash", "dense": kind, **extra})


def _in_process(settings: IndexSettings, batch: int, delivered: list[int]) -> ShardRunner:
    """A ShardRunner running EmbedWorker here; the first sub-index is delivered twice, as
    when Ray re-runs a batch whose worker died after its result was sent."""

    def run(
        hashes: list[str], texts: list[str], job: ShardJob | None
    ) -> Iterator[tuple[list[str], np.ndarray]]:
        worker = EmbedWorker(settings, None if job is None else job.template)
        for i in range(0, len(hashes), batch):
            rows = {"hash": np.array(hashes[i : i + batch]), "text": np.array(texts[i : i + batch])}
            if job is not None:
                rows["keys"] = np.empty(len(rows["hash"]), dtype=object)  # ragged, as from Arrow
                for j, key in enumerate(rows["hash"]):
                    rows["keys"][j] = np.array(job.keys[key])
            out = worker(rows)
            for blob in out.get("shard", ()) if job is not None else ():
                for _ in range(1 if delivered else 2) if len(blob) else ():
                    job.sink(bytes(blob))
                    delivered.append(len(blob))
            yield [str(h) for h in out["hash"]], out["vector"]

    return run


def _codes(dense: DenseIndex) -> dict[int, bytes]:
    """id → PQ code, read list by list from the inverted lists."""
    import faiss

    ivf = faiss.extract_index_ivf(dense.faiss_index)
    lists, size = ivf.invlists, ivf.code_size
    found = {}
    for i in range(ivf.nlist):
        n = lists.list_size(i)
        ids = faiss.rev_swig_ptr(lists.get_ids(i), n)
        codes = faiss.rev_swig_ptr(lists.get_codes(i), n * size)
        found.update({int(k): bytes(codes[j * size : (j + 1) * size]) for j, k in enumerate(ids)})
    return found


def _sharded(
    kind: str, chunks: list[Chunk], tmp_path: Path, cached: int
) -> tuple[DenseIndex, list[int]]:
    """A sharded build of `chunks` whose first `cached` vectors are already in the cache."""
    settings, delivered = _settings(kind), list[int]()
    with EmbeddingCache(tmp_path / "cache.sqlite") as cache:
        embedder = HashEmbedder()
        embed = CachedEmbedding(embedder.id, cache, local_runner(embedder, 32), lambda *_: None)
        embed(chunks[:cached])  # the cache hits
        dense = Sharder(_in_process(settings, 40, delivered)).build(chunks, embed, settings)
    return dense, delivered


@pytest.mark.parametrize("kind", ["flat", "ivfpq"])
def test_merged_sub_indexes_equal_a_local_build(
    kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    chunks = _chunks(N)
    keys = [chunk_key(c.chunk_id) for c in chunks]
    local = DenseIndex.build(HashEmbedder().embed_batch([embed_text(c) for c in chunks]), keys,
                             _settings(kind))  # fmt: skip
    with caplog.at_level(logging.INFO, logger="index.shards"):
        dense, delivered = _sharded(kind, chunks, tmp_path, cached=300)

    assert len(delivered) > 10 and delivered[0] == delivered[1]  # sub-indexes came, one twice
    assert "ids repeated by retried batches" in caplog.text
    assert type(dense.faiss_index) is type(local.faiss_index) and dense.kind == kind
    assert dense.size == N and sorted(dense.ids().tolist()) == sorted(keys)
    assert dense.search_params == local.search_params
    if kind == "ivfpq":
        assert _codes(dense) == _codes(local)  # the same quantizer, so the very same codes
    for row in (0, 49, 400, N - 1):
        query = HashEmbedder().embed_batch([embed_text(chunks[row]) + " gpu"])[0]
        assert dense.search(query, 10) == local.search(query, 10)
        assert dense.similarity(query, keys[:5]) == pytest.approx(local.similarity(query, keys[:5]))
    assert dense.remove(keys[:100]) == 100 and dense.size == N - 100  # incremental still works


@pytest.mark.parametrize("kind", ["flat", "ivfpq"])
def test_an_incremental_sharded_build_adds_into_the_live_index(kind: str, tmp_path: Path) -> None:
    chunks = _chunks(N)
    keys = [chunk_key(c.chunk_id) for c in chunks]
    vectors = HashEmbedder().embed_batch([embed_text(c) for c in chunks])
    local = DenseIndex.build(vectors[:1100], keys[:1100], _settings(kind))
    live = DenseIndex.build(vectors[:1100], keys[:1100], _settings(kind))
    local.add(vectors[1100:], keys[1100:])
    with EmbeddingCache(tmp_path / "cache.sqlite") as cache:
        embed = CachedEmbedding(
            "fake-hash", cache, local_runner(HashEmbedder(), 32), lambda *_: None
        )
        sharder = Sharder(_in_process(_settings(kind), 16, []))
        dense = sharder.extend(live, chunks[1100:], embed, _settings(kind))

    assert dense.size == N and sorted(dense.ids().tolist()) == sorted(keys)
    if kind == "ivfpq":
        assert _codes(dense) == _codes(local)
    query = vectors[1150]
    assert dense.search(query, 10) == local.search(query, 10)
    assert dense.similarity(query, keys[1100:1105]) == pytest.approx(
        local.similarity(query, keys[1100:1105])
    )
