"""The query adapter: fitted from the corpus at build time, applied to queries at search."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_index_support import FakeSource, corpus

from index import IndexLoadError, IndexSettings, SearchIndex, build_index
from index.adapter import ADAPTER_FILE, QueryAdapter, fit_adapter, probe, training_pairs
from index.dense import chunk_key
from index.types import Chunk


def _chunk(text: str, chunk_id: str = "c1") -> Chunk:
    return Chunk(chunk_id, 1, "https://example.org/a", "T", "", text, 0, len(text))


def test_probe_is_one_sentence_of_the_passage_picked_by_its_id() -> None:
    text = (
        "张量并行把一个矩阵乘按列切到多张卡上，每张卡只算一部分输出。"
        "最后用 all-gather 把各卡的部分结果拼起来，得到完整的输出矩阵。\n"
        "Row parallel layers instead need an all-reduce to sum the partial results together."
    )
    picks = {probe(_chunk(text, f"id{i}")) for i in range(20)}
    assert len(picks) > 1  # different chunks pick different sentences
    for pick in picks:
        assert pick is not None and len(pick) >= 40
        assert pick.replace(" ", "") in text.replace("\n", "").replace(" ", "")
    assert probe(_chunk(text, "id3")) == probe(_chunk(text, "id3"))
    assert probe(_chunk("太短了。")) is None


def test_training_pairs_do_not_depend_on_chunk_order_and_respect_the_limit() -> None:
    line = "这一段讲的是把优化器状态切分到数据并行的各个进程上，从而节省显存的做法。"
    chunks = [_chunk(f"{line}{line}{i}", f"{i:04x}") for i in range(50)]
    pairs = training_pairs(chunks, 10)
    again = training_pairs(list(reversed(chunks)), 10)
    assert len(pairs) == 10
    assert [chunks[row].chunk_id for row, _ in pairs] == [
        list(reversed(chunks))[row].chunk_id for row, _ in again
    ]
    assert [chunks[row].chunk_id for row, _ in pairs] == sorted(
        chunks[row].chunk_id for row, _ in pairs
    )


def _accuracy(adapter: QueryAdapter, queries: np.ndarray, passages: np.ndarray) -> float:
    adapted = np.stack([adapter.apply(q) for q in queries])
    return float(np.mean(np.argmax(adapted @ passages.T, axis=1) == np.arange(len(queries))))


def test_fitting_teaches_queries_to_find_their_passages() -> None:
    rng = np.random.default_rng(7)
    passages = rng.normal(size=(400, 32)).astype(np.float32)
    passages /= np.linalg.norm(passages, axis=1, keepdims=True)
    # Queries live in a distorted copy of the passage space, as paraphrases do.
    distortion = np.eye(32) + 1.5 * rng.normal(size=(32, 32)) / np.sqrt(32)
    queries = passages @ distortion.T + 0.1 * rng.normal(size=passages.shape)
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    identity = QueryAdapter(np.eye(32))
    fitted = QueryAdapter(fit_adapter(queries, passages, epochs=30))
    assert (
        _accuracy(identity, queries, passages) < 0.6 < 0.75 < _accuracy(fitted, queries, passages)
    )
    np.testing.assert_array_equal(fit_adapter(queries, passages, epochs=30), fitted.matrix)


def test_a_build_fits_the_adapter_and_search_ranks_with_it(tmp_path: Path, use: Any) -> None:
    settings = IndexSettings(chunk_size=100, chunk_overlap=0, adapter_min_passages=2)
    calls: list[str] = []
    report = build_index(FakeSource(corpus()), tmp_path, settings, embedder=use,
                         progress=lambda stage, done, total: calls.append(stage))  # fmt: skip
    assert (report.path / ADAPTER_FILE).exists() and {"probe", "adapt"} <= set(calls)
    index = SearchIndex.load(tmp_path, settings, embedder=use)
    assert index.adapter is not None and not np.allclose(index.adapter.matrix, np.eye(512))
    # A strong adapter (a random rotation) makes its effect on the ranking unmistakable.
    rotation, _ = np.linalg.qr(np.random.default_rng(3).normal(size=(512, 512)))
    index.adapter = QueryAdapter(rotation)
    query = "KV cache fragmentation"
    hits = index.search(query, k=8, mode="dense")
    raw = index.embed_query(query)
    vectors = [index._dense._index.reconstruct(chunk_key(h.chunk.chunk_id)) for h in hits]
    by_adapted = [float(v @ index.adapter.apply(raw)) for v in vectors]
    by_raw = [float(v @ raw) for v in vectors]
    assert by_adapted == sorted(by_adapted, reverse=True)  # ranked by the adapted query
    assert by_raw != sorted(by_raw, reverse=True)
    # ... but each hit reports the raw cosine, which the abstention thresholds expect.
    assert [h.dense for h in hits] == pytest.approx(by_raw, abs=1e-5)


def test_adapter_off_writes_none_and_search_uses_raw_vectors(tmp_path: Path, use: Any) -> None:
    settings = IndexSettings(adapter=False, adapter_min_passages=2)
    report = build_index(FakeSource(corpus()), tmp_path, settings, embedder=use)
    assert not (report.path / ADAPTER_FILE).exists()
    assert SearchIndex.load(tmp_path, settings, embedder=use).adapter is None


def test_a_corpus_below_the_minimum_gets_no_adapter(tmp_path: Path, use: Any) -> None:
    chunks = build_index(FakeSource(corpus()), tmp_path / "a", IndexSettings(), embedder=use)
    assert 2 < chunks.chunks < IndexSettings().adapter_min_passages
    assert not (chunks.path / ADAPTER_FILE).exists()
    fitted = IndexSettings(adapter_min_passages=chunks.chunks // 2)
    report = build_index(FakeSource(corpus()), tmp_path / "b", fitted, embedder=use)
    assert (report.path / ADAPTER_FILE).exists()


def test_a_small_update_keeps_the_live_adapter_and_full_refits(tmp_path: Path, use: Any) -> None:
    settings = IndexSettings(
        chunk_size=100, chunk_overlap=0, adapter_refit=0.5, adapter_min_passages=2
    )
    first = build_index(FakeSource(corpus()), tmp_path, settings, embedder=use)
    articles = corpus()
    articles[0] = replace(articles[0], text=articles[0].text + "\n附：ZeRO++ 进一步压缩通信。\n")
    small = build_index(FakeSource(articles), tmp_path, settings, embedder=use)
    assert small.mode == "incremental" and small.added == 1
    kept = np.load(small.path / ADAPTER_FILE)
    np.testing.assert_array_equal(kept, np.load(first.path / ADAPTER_FILE))
    refit = build_index(FakeSource(articles), tmp_path, settings, embedder=use, full=True)
    assert not np.array_equal(np.load(refit.path / ADAPTER_FILE), kept)


@pytest.mark.parametrize("damage", ["garbage", "wrong shape"])
def test_a_damaged_adapter_is_a_clear_error_and_the_next_build_repairs_it(
    tmp_path: Path, use: Any, damage: str
) -> None:
    settings = IndexSettings(adapter_min_passages=2)
    first = build_index(FakeSource(corpus()), tmp_path, settings, embedder=use)
    path = first.path / ADAPTER_FILE
    if damage == "garbage":
        path.write_bytes(b"not a numpy file")
    else:
        np.save(path, np.eye(3, dtype=np.float32))
    with pytest.raises(IndexLoadError, match=r"damaged index .*run `linkrag index`"):
        SearchIndex.load(tmp_path, settings, embedder=use)
    repair = build_index(FakeSource(corpus()), tmp_path, settings, embedder=use)
    assert repair.mode == "full" and "unreadable" in repair.reason
    assert SearchIndex.load(tmp_path, settings, embedder=use).adapter is not None
