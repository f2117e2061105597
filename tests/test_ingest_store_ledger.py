"""Schema migration, transactions, the ledger summary, near-duplicate signatures."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ingest import Article, ArticleStore, FetchResult, StoreError
from ingest.dedup import NearDuplicates, minhash, text_hash, to_bytes
from ingest.ledger import SKIPPED, Entry

V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sources (spec TEXT PRIMARY KEY, kind TEXT NOT NULL, last_run TEXT NOT NULL);
CREATE TABLE links (
    url TEXT NOT NULL, canonical TEXT NOT NULL, anchor TEXT NOT NULL, source TEXT NOT NULL,
    section TEXT NOT NULL, PRIMARY KEY (canonical, source));
CREATE TABLE fetches (
    url TEXT PRIMARY KEY, final_url TEXT, status INTEGER, content_type TEXT, etag TEXT,
    last_modified TEXT, content_hash TEXT, error TEXT, error_kind TEXT, fetched_at TEXT NOT NULL);
CREATE TABLE articles (
    id INTEGER PRIMARY KEY, url TEXT NOT NULL UNIQUE, title TEXT NOT NULL, author TEXT,
    date TEXT, language TEXT, text TEXT NOT NULL, text_hash TEXT NOT NULL,
    topic TEXT NOT NULL DEFAULT '', duplicate_of INTEGER REFERENCES articles(id),
    updated_at TEXT NOT NULL);
CREATE TABLE aliases (url TEXT PRIMARY KEY, article_id INTEGER NOT NULL REFERENCES articles(id));
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO links VALUES ('https://e.x/a', 'https://e.x/a', 'A', 'list:l.md', '["Top"]');
INSERT INTO fetches VALUES ('https://e.x/a', 'https://e.x/a', 200, 'text/html', '"e"', NULL,
    'abc', NULL, NULL, '2024-01-01T00:00:00+00:00');
INSERT INTO fetches VALUES ('https://e.x/b', '', 404, '', NULL, NULL, NULL, 'HTTP 404',
    'http_404', '2024-01-01T00:00:00+00:00');
INSERT INTO articles VALUES (1, 'https://e.x/a', 'A', NULL, NULL, 'en', 'alpha text', 'h', '',
    NULL, '2024-01-01T00:00:00+00:00');
INSERT INTO aliases VALUES ('https://e.x/a', 1);
"""


def test_version_1_store_is_migrated_in_place(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    conn = sqlite3.connect(data / "linkrag.sqlite")
    conn.executescript(V1_SCHEMA)
    conn.close()
    with ArticleStore.open(data) as store:
        [article] = store.iter_articles()
        assert article.text == "alpha text" and article.topics == ["Top"]
        assert store.fetched_ok() == {"https://e.x/a"}
        assert store.known()["https://e.x/a"].etag == '"e"'
        summary = store.ledger_summary()
        assert summary["outcomes"] == {"failed": 1, "fetched": 1}
        assert summary["sites"] == {"e.x": {"failed": 1, "fetched": 1}}
        assert summary["failure_kinds"]["http_404"]["example"] == "https://e.x/b"
        assert store.unsigned_articles() == [(1, "alpha text")]
    with ArticleStore.open(data) as store:  # opening again is a no-op
        assert store.stats().articles == 1
    conn = sqlite3.connect(data / "linkrag.sqlite")
    assert conn.execute("SELECT value FROM meta").fetchone() == ("2",)
    conn.close()


def test_newer_store_is_refused_with_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    conn = sqlite3.connect(data / "linkrag.sqlite")
    conn.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO meta VALUES ('schema_version', '9');"
    )
    conn.close()
    with pytest.raises(StoreError, match=r"schema version 9, newer than .* upgrade linkrag"):
        ArticleStore.open(data)


def test_transaction_rolls_back_the_whole_article(tmp_path: Path) -> None:
    with ArticleStore.open(tmp_path) as store:
        with pytest.raises(RuntimeError), store.transaction():
            store.add_article(Article("https://e.x/a", "A", "text", text_hash("text")))
            store.record_fetch(FetchResult("https://e.x/a", status=200, body=b"x"))
            raise RuntimeError("crash between the article and its ledger row")
        assert store.stats().articles == 0 and store.fetched_ok() == set()
    with ArticleStore.open(tmp_path) as store:
        assert store.stats().fetches == 0


def test_ledger_rows_and_summary(tmp_path: Path) -> None:
    with ArticleStore.open(tmp_path) as store:
        ok = FetchResult(
            "https://zhihu.com/p/1", "https://zhihu.com/p/1", 200, body=b"<p>", retries=2
        )
        store.record_fetch(ok, None, Entry(SKIPPED, "login_wall", "zhihu sign-in page"))
        store.record_fetch(ok, "https://zhihu.com/p/2", Entry(SKIPPED, "login_wall", "sign-in"))
        store.record_fetch(
            FetchResult("https://b.x/", error="timed out", error_kind="timeout", retries=3)
        )
        row = store._conn.execute(
            "SELECT retries, bytes, outcome, skip_kind, host, checked_at IS NOT NULL "
            "FROM fetches WHERE url = 'https://zhihu.com/p/1'"
        ).fetchone()
        assert row == (2, 3, "skipped", "login_wall", "zhihu.com", 1)
        summary = store.ledger_summary()
        assert summary["outcomes"] == {"skipped": 2, "failed": 1}
        assert list(summary["sites"]) == ["zhihu.com", "b.x"]
        assert summary["failure_kinds"] == {
            "login_wall": {
                "count": 2,
                "example": "https://zhihu.com/p/1",
                "reason": "zhihu sign-in page",
            },
            "timeout": {"count": 1, "example": "https://b.x/", "reason": "timed out"},
        }


def cross_post(n: int) -> str:
    return "".join(
        f"第{i}节：ZeRO 把优化器状态、梯度和参数切分到 {i + 2} 个数据并行进程上，显存占用下降。"
        for i in range(n)
    )


def test_near_duplicate_index_finds_cross_posts() -> None:
    near = NearDuplicates(0.85)
    near.add(1, minhash(cross_post(40)))
    near.add(2, minhash("完全不同的一篇文章，讲的是 KV cache 的显存估算方法。" * 8))
    found = near.find(minhash("转载自知乎。" + cross_post(40) + "欢迎关注公众号。"))
    assert found is not None and found[0] == 1 and 0.85 <= found[1] < 1.0
    assert near.find(minhash(cross_post(20))) is None  # half of it is another article
    assert near.find(minhash("Ring attention passes blocks around devices. " * 10)) is None
    assert len(to_bytes(minhash(cross_post(3)))) == 128 * 4
