"""Incremental index builds: reuse what did not change, and land exactly where a full build does."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_index_support import FakeSource, corpus

from index import IndexSettings, SearchIndex, build_index, current_version
from index.dense import DenseIndex, chunk_key
from index.state import TOKENS_FILE
from index.store import CHUNKS_FILE, DENSE_FILE, index_root
from ingest import Article

QUERIES = ["ZeRO-3 切分模型参数", "KV cache fragmentation", "低秩适配", "旋转位置编码外推"]


def _edited() -> list[Article]:
    """The corpus after an ingest: one article gone, one rewritten, one brand new."""
    articles = corpus()
    gone, changed = articles[0], articles[2]
    rewritten = replace(changed, text=changed.text + "\nBlocks are 16 tokens each by default.\n")
    new = replace(articles[1], id=99, url="https://example.org/new", title="混合精度训练")
    text = "# 混合精度训练\n\n用 FP16 计算、FP32 保存主权重，配合损失缩放避免下溢。\n"
    new = replace(new, text=text)
    return [a for a in articles if a.id not in (gone.id, changed.id)] + [rewritten, new]


def _dense_contents(folder: Path) -> dict[int, np.ndarray]:
    dense = DenseIndex.load(folder / DENSE_FILE)
    return {int(i): np.asarray(dense._index.reconstruct(int(i))) for i in dense.ids()}


def test_incremental_update_equals_a_full_rebuild(tmp_path: Path, use: Any) -> None:
    settings = IndexSettings()
    inc, full = tmp_path / "inc", tmp_path / "full"
    build_index(FakeSource(corpus()), inc, settings, embedder=use)
    report = build_index(FakeSource(_edited()), inc, settings, embedder=use)
    fresh = build_index(FakeSource(_edited()), full, settings, embedder=use)

    assert (report.mode, fresh.mode) == ("incremental", "full")
    assert report.added > 0 and report.removed > 0
    assert report.embedded == report.added < report.chunks  # only the new chunks
    for name in (CHUNKS_FILE, TOKENS_FILE):
        assert (report.path / name).read_text("utf-8") == (fresh.path / name).read_text("utf-8")
    inc_vectors, full_vectors = _dense_contents(report.path), _dense_contents(fresh.path)
    assert inc_vectors.keys() == full_vectors.keys()
    for key, vector in full_vectors.items():
        np.testing.assert_allclose(inc_vectors[key], vector, atol=1e-6)
    a = SearchIndex.load(inc, settings, embedder=use)
    b = SearchIndex.load(full, settings, embedder=use)
    for query in QUERIES:
        got, want = a.search(query, k=5), b.search(query, k=5)
        assert [h.chunk.chunk_id for h in got] == [h.chunk.chunk_id for h in want], query
        assert [h.score for h in got] == pytest.approx([h.score for h in want])


def test_removed_article_is_gone_from_both_indexes(tmp_path: Path, use: Any) -> None:
    settings = IndexSettings()
    build_index(FakeSource(corpus()), tmp_path, settings, embedder=use)
    build_index(FakeSource(_edited()), tmp_path, settings, embedder=use)
    index = SearchIndex.load(tmp_path, settings, embedder=use)
    gone = corpus()[0].url
    for mode in ("dense", "lexical"):
        hits = index.search("ZeRO-3 显存 优化器状态 切分", k=10, mode=mode)  # type: ignore[arg-type]
        assert gone not in {h.chunk.url for h in hits}
    assert index.search("损失缩放 FP16", k=1)[0].chunk.url == "https://example.org/new"


def test_nothing_changed_writes_no_new_version(tmp_path: Path, use: Any) -> None:
    settings = IndexSettings()
    first = build_index(FakeSource(corpus()), tmp_path, settings, embedder=use)
    again = build_index(FakeSource(corpus()), tmp_path, settings, embedder=use)
    assert (again.mode, again.version, again.embedded) == ("unchanged", first.version, 0)
    assert [p.name for p in index_root(tmp_path).iterdir() if p.is_dir()] == [first.version]


def test_settings_change_forces_a_full_build_and_says_why(tmp_path: Path, use: Any) -> None:
    build_index(FakeSource(corpus()), tmp_path, IndexSettings(), embedder=use)
    smaller = IndexSettings(chunk_size=200, chunk_overlap=0)
    report = build_index(FakeSource(corpus()), tmp_path, smaller, embedder=use)
    assert report.mode == "full"
    assert report.reason == "index settings changed (chunk_size 600 → 200, chunk_overlap 80 → 0)"
    assert SearchIndex.load(tmp_path, smaller, embedder=use).meta["chunk_size"] == 200


def test_cli_reports_the_config_change(
    tmp_path: Path, use: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ui.cli import main

    monkeypatch.setenv("LINKRAG_DATA", str(tmp_path))
    build_index(FakeSource(corpus()), tmp_path, IndexSettings(), embedder=use)
    _store_corpus(tmp_path)
    monkeypatch.setenv("LINKRAG_INDEX__CHUNK_SIZE", "300")
    assert main(["index"]) == 0
    out = capsys.readouterr().out
    assert "full build: index settings changed (chunk_size 600 → 300)" in out, out
    assert main(["index"]) == 0
    assert "index: up to date" in capsys.readouterr().out
    assert main(["index", "--full"]) == 0
    assert "full build: full rebuild requested" in capsys.readouterr().out


def test_damaged_live_version_falls_back_to_a_full_build(tmp_path: Path, use: Any) -> None:
    settings = IndexSettings()
    first = build_index(FakeSource(corpus()), tmp_path, settings, embedder=use)
    (first.path / TOKENS_FILE).write_text('["only one row"]\n', "utf-8")
    report = build_index(FakeSource(_edited()), tmp_path, settings, embedder=use)
    assert report.mode == "full" and "damaged" in report.reason
    assert current_version(tmp_path) == report.version


def _store_corpus(data_dir: Path) -> None:
    from ingest import ArticleStore

    with ArticleStore.open(data_dir) as store:
        for article in corpus():
            store.add_article(replace(article, id=None))


def test_keys_are_stable_non_negative_int64() -> None:
    keys = {chunk_key(c) for c in ("ffffffffffffffff", "0000000000000001", "8000000000000000")}
    assert all(0 <= k < 2**63 for k in keys) and len(keys) == 3


def test_an_edit_replaces_only_the_passages_it_touched(tmp_path: Path, use: Any) -> None:
    settings = IndexSettings(chunk_size=100, chunk_overlap=0)
    first = build_index(FakeSource(corpus()), tmp_path, settings, embedder=use)
    articles = corpus()
    own = sum(
        1
        for c in SearchIndex.load(tmp_path, settings, embedder=use)._chunks
        if c.article_id == articles[0].id
    )
    articles[0] = replace(articles[0], text=articles[0].text + "\n附：ZeRO++ 进一步压缩通信。\n")
    report = build_index(FakeSource(articles), tmp_path, settings, embedder=use)
    assert own > 2 and report.mode == "incremental"
    # The appended line lands in the article's last passage: one out, one in, the rest stay.
    assert (report.added, report.removed, report.embedded) == (1, 1, 1)
    assert report.chunks == first.chunks


def test_a_new_title_re_embeds_that_article(tmp_path: Path, use: Any) -> None:
    settings = IndexSettings(chunk_size=100, chunk_overlap=0)
    build_index(FakeSource(corpus()), tmp_path, settings, embedder=use)
    articles = corpus()
    articles[1] = replace(articles[1], title="RoPE 位置编码全解")  # part of every embedded text
    own = sum(
        1
        for c in SearchIndex.load(tmp_path, settings, embedder=use)._chunks
        if c.article_id == articles[1].id
    )
    report = build_index(FakeSource(articles), tmp_path, settings, embedder=use)
    assert report.added == report.removed == report.embedded == own
    hit = SearchIndex.load(tmp_path, settings, embedder=use).search("旋转位置编码", k=1)[0]
    assert hit.chunk.title == "RoPE 位置编码全解"


def test_hnsw_cannot_remove_so_its_dense_part_is_rebuilt(tmp_path: Path, use: Any) -> None:
    settings = IndexSettings(dense="hnsw")
    build_index(FakeSource(corpus()), tmp_path / "inc", settings, embedder=use)
    report = build_index(FakeSource(_edited()), tmp_path / "inc", settings, embedder=use)
    fresh = build_index(FakeSource(_edited()), tmp_path / "full", settings, embedder=use)
    assert report.mode == "incremental" and report.embedded == report.added
    assert _dense_contents(report.path).keys() == _dense_contents(fresh.path).keys()
    index = SearchIndex.load(tmp_path / "inc", settings, embedder=use)
    assert index.search("损失缩放 FP16", k=1)[0].chunk.url == "https://example.org/new"


def test_changing_the_dense_kind_is_a_full_build(tmp_path: Path, use: Any) -> None:
    build_index(FakeSource(corpus()), tmp_path, IndexSettings(), embedder=use)
    report = build_index(FakeSource(corpus()), tmp_path, IndexSettings(dense="hnsw"), embedder=use)
    assert report.mode == "full" and "dense flat → hnsw" in report.reason
