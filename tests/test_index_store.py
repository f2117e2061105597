"""Versioned folders, the CURRENT swap, load-time checks, crash safety and the embedding cache."""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from test_index_support import FakeSource, HashEmbedder, corpus

from index import (
    IndexBuildError,
    IndexLoadError,
    IndexMismatchError,
    IndexNotFoundError,
    IndexSettings,
    SearchIndex,
    build_index,
    current_version,
    register_embedder,
)
from index.cache import EmbeddingCache
from index.embedders import UseEmbedder, unregister_embedder
from index.store import META_FILE, index_root


@pytest.fixture(scope="module")
def use() -> UseEmbedder:
    return UseEmbedder(threads=2)


@pytest.fixture
def fake() -> Iterator[HashEmbedder]:
    embedder = HashEmbedder()
    register_embedder("fake-hash", lambda settings: embedder)
    yield embedder
    unregister_embedder("fake-hash")


def test_second_build_embeds_nothing(tmp_path: Path, use: UseEmbedder) -> None:
    settings = IndexSettings()
    first = build_index(FakeSource(corpus()), tmp_path, settings, embedder=use)
    assert first.embedded == first.chunks > 0 and first.cached == 0
    second = build_index(FakeSource(corpus()), tmp_path, settings, embedder=use)
    assert (second.embedded, second.cached) == (0, second.chunks)
    changed = corpus()
    changed[3] = replace(changed[3], text=changed[3].text + "\nA new closing sentence here.\n")
    third = build_index(FakeSource(changed), tmp_path, settings, embedder=use)
    assert third.embedded == 1  # only the changed chunk


def test_cache_is_keyed_by_embedder(tmp_path: Path) -> None:
    vector = np.arange(4, dtype=np.float32)
    with EmbeddingCache(tmp_path / "e.sqlite") as cache:
        cache.put_many("a", [("h1", vector)])
        assert np.array_equal(cache.get_many("a", ["h1", "h2"])["h1"], vector)
        assert cache.get_many("b", ["h1"]) == {}


def test_cache_stores_a_vector_in_about_its_own_size(tmp_path: Path) -> None:
    """2,000 512-d vectors (2 KB each) in ~2.4 KB of file apiece; the first layout took
    ~4.7 KB (a 2 KB row spilled into an overflow page of its own)."""
    path = tmp_path / "e.sqlite"
    vectors = np.random.default_rng(0).standard_normal((2000, 512)).astype(np.float32)
    with EmbeddingCache(path) as cache:
        cache.put_many("m", ((f"{i:040x}", v) for i, v in enumerate(vectors)))
        cache._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        got = cache.get_many("m", [f"{i:040x}" for i in (0, 1999)])
    assert path.stat().st_size / len(vectors) < 2800
    np.testing.assert_array_equal(got[f"{1999:040x}"], vectors[1999])


def test_a_cache_in_the_first_layout_still_serves(tmp_path: Path) -> None:
    path = tmp_path / "e.sqlite"
    first_layout = (
        "CREATE TABLE embeddings (embedder TEXT NOT NULL, text_hash TEXT NOT NULL, "
        "vector BLOB NOT NULL, PRIMARY KEY (embedder, text_hash)) WITHOUT ROWID"
    )
    with sqlite3.connect(path) as db:
        db.execute(first_layout)
        db.execute("INSERT INTO embeddings VALUES ('m', 'a', ?)", [np.ones(4).tobytes()])
    with EmbeddingCache(path) as cache:
        cache.put_many("m", [("a", np.zeros(4, np.float32)), ("b", np.full(4, 2.0))])
        assert cache.missing("m", ["a", "b", "c"]) == ["c"]
        got = cache.get_many("m", ["a", "b"])
    assert got["a"].tolist() == [0.0] * 4 and got["b"].tolist() == [2.0] * 4


def test_current_swaps_and_keeps_one_previous(tmp_path: Path, fake: HashEmbedder) -> None:
    settings = IndexSettings(embedder="fake-hash")
    assert current_version(tmp_path) is None
    source = FakeSource(corpus())
    versions = [build_index(source, tmp_path, settings, full=True).version for _ in range(3)]
    assert len(set(versions)) == 3
    assert current_version(tmp_path) == versions[-1]
    assert SearchIndex.load(tmp_path, settings).version == versions[-1]
    folders = {p.name for p in index_root(tmp_path).iterdir() if p.is_dir()}
    assert folders == set(versions[1:])  # the live one and its predecessor


def test_missing_index_says_what_to_run(tmp_path: Path, fake: HashEmbedder) -> None:
    with pytest.raises(IndexNotFoundError, match="run `linkrag build`"):
        SearchIndex.load(tmp_path, IndexSettings(embedder="fake-hash"))


def test_embedder_change_is_a_clear_mismatch(
    tmp_path: Path, use: UseEmbedder, fake: HashEmbedder
) -> None:
    build_index(FakeSource(corpus()), tmp_path, IndexSettings(), embedder=use)
    with pytest.raises(IndexMismatchError) as err:
        SearchIndex.load(tmp_path, IndexSettings(embedder="fake-hash"))
    assert str(err.value) == (
        "index built with embedder use-m3 but config says fake-hash: run `linkrag index` to rebuild"
    )
    assert isinstance(err.value, IndexLoadError)


def test_crash_mid_build_keeps_the_old_index(
    tmp_path: Path, fake: HashEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = IndexSettings(embedder="fake-hash")
    good = build_index(FakeSource(corpus()), tmp_path, settings)

    def crash(tokens: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("index.builder.LexicalIndex.build", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        build_index(FakeSource(corpus()[:2]), tmp_path, settings)
    assert current_version(tmp_path) == good.version
    assert not [p for p in index_root(tmp_path).iterdir() if p.name.startswith(".tmp-")]
    assert SearchIndex.load(tmp_path, settings).chunk_count == good.chunks


def test_a_killed_builds_staging_folder_is_reclaimed_by_the_next_publish(
    tmp_path: Path, fake: HashEmbedder
) -> None:
    """A SIGKILLed build leaves its staging folder (a whole index) behind, unlocked; one still
    locked belongs to a live concurrent build and stays."""
    settings = IndexSettings(embedder="fake-hash")
    build_index(FakeSource(corpus()), tmp_path, settings)
    root = index_root(tmp_path)
    dead, live = root / ".tmp-dead", root / ".tmp-live"
    for folder in (dead, live):
        folder.mkdir()
        (folder / "faiss.index").write_bytes(b"x" * 1000)
    held = os.open(live, os.O_RDONLY)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        build_index(FakeSource(corpus()[:2]), tmp_path, settings)
        assert not dead.exists() and live.exists()
    finally:
        os.close(held)


def test_damaged_meta_is_a_load_error(tmp_path: Path, fake: HashEmbedder) -> None:
    settings = IndexSettings(embedder="fake-hash")
    report = build_index(FakeSource(corpus()), tmp_path, settings)
    (report.path / META_FILE).write_text("{not json", "utf-8")
    with pytest.raises(IndexLoadError, match="run `linkrag index`"):
        SearchIndex.load(tmp_path, settings)


def test_empty_store_is_refused(tmp_path: Path, fake: HashEmbedder) -> None:
    with pytest.raises(IndexBuildError, match="run `linkrag ingest` first"):
        build_index(FakeSource([]), tmp_path, IndexSettings(embedder="fake-hash"))
    assert current_version(tmp_path) is None


def test_builds_from_the_real_article_store(tmp_path: Path, fake: HashEmbedder) -> None:
    from ingest import ArticleStore  # the store the CLI passes in, not a stand-in

    settings = IndexSettings(embedder="fake-hash")
    with ArticleStore.open(tmp_path) as store:
        for article in corpus():
            store.add_article(replace(article, id=None))
        report = build_index(store, tmp_path, settings)
    assert report.articles == len(corpus())
    hits = SearchIndex.load(tmp_path, settings).search("CUDA_VISIBLE_DEVICES", k=1)
    assert hits[0].chunk.url == "https://example.org/multi-gpu"
