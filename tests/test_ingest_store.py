"""The SQLite article store: round trip, aliases, outcomes, stats."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ingest import Article, ArticleStore, FetchResult, Link, SourceKind, SourceSpec
from ingest.dedup import text_hash


def article(url: str, text: str, **extra: object) -> Article:
    return Article(url=url, title=f"T {url[-1]}", text=text, text_hash=text_hash(text), **extra)  # type: ignore[arg-type]


def test_round_trip_aliases_and_stats(tmp_path: Path) -> None:
    with ArticleStore.open(tmp_path / "data") as store:
        store.record_source(SourceSpec(SourceKind.LIST, "lists/a.md"))
        store.add_links(
            [
                Link("https://e.x/a", "A", "list:lists/a.md", ("Top", "Sub")),
                Link("https://e.x/a#again", "A2", "list:lists/a.md"),  # same canonical URL
                Link("https://e.x/b", "B", "list:lists/a.md"),
            ]
        )
        first = store.add_article(
            article(
                "https://e.x/a",
                "alpha text",
                language="en",
                topic="Top / Sub",
                aliases=["https://e.x/a?utm_source=x"],
            )
        )
        second = store.add_article(article("https://e.x/b", "beta text", author="Ann"))
        dup = store.add_article(article("https://e.x/c", "alpha text"), duplicate_of=first)
        store.add_aliases(["https://mirror.x/a"], first)
        store.record_fetch(FetchResult("https://e.x/a", "https://e.x/a", 200, "text/html", b"<p>"))
        store.record_fetch(
            FetchResult("https://e.x/404", status=404, error="HTTP 404", error_kind="http_404")
        )

        got = store.get_article(first)
        assert got is not None and got.text == "alpha text" and got.topic == "Top / Sub"
        assert got.aliases == [
            "https://e.x/a",
            "https://e.x/a?utm_source=x",
            "https://e.x/c",
            "https://mirror.x/a",
        ]
        assert [a.id for a in store.iter_articles()] == [first, second]
        assert dup not in {a.id for a in store.iter_articles()}
        assert store.find_by_url("https://mirror.x/a") == (first, text_hash("alpha text"))
        assert store.find_by_url("https://E.x/a#frag") == (first, text_hash("alpha text"))
        assert store.find_by_hash(text_hash("alpha text")) == first
        assert store.get_article(12345) is None
        assert store.fetched_ok() == {"https://e.x/a"}
        assert store.failures(10) == [("https://e.x/404", "http_404", "HTTP 404")]
        stats = store.stats()
        assert (
            stats.articles,
            stats.links,
            stats.fetch_failures,
            stats.fetches,
            stats.duplicates,
        ) == (2, 2, 1, 2, 1)

    # Committed per write: a fresh connection sees everything, in WAL mode.
    with ArticleStore.open(tmp_path / "data") as again:
        assert again.stats().articles == 2
        b = again.get_article(second)
        assert b is not None and b.author == "Ann" and b.language is None
    conn = sqlite3.connect(tmp_path / "data" / "linkrag.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_update_replaces_text_and_keeps_topic(tmp_path: Path) -> None:
    with ArticleStore.open(tmp_path) as store:
        article_id = store.add_article(article("https://e.x/a", "old", topic="T"))
        store.update_article(article_id, article("https://e.x/a", "new text"))
        got = store.get_article(article_id)
        assert got is not None and got.text == "new text" and got.topic == "T"
        assert got.text_hash == text_hash("new text")
