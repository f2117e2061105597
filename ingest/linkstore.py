"""Links and their staleness: the reading-list side of the article store."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from contextlib import AbstractContextManager

from ingest.types import Link
from ingest.urls import canonical_url


class LinkTable:
    """Link methods of ArticleStore (which provides the connection, lock and transactions).

    One row per (canonical URL, list, section); a link missing from the latest read of
    its list is stale, never deleted, and comes back when the list has it again.
    """

    _conn: sqlite3.Connection
    _lock: threading.RLock

    def _commit(self) -> None:
        raise NotImplementedError

    def transaction(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _aliases(self, article_id: int | None = None) -> dict[int, list[str]]:
        raise NotImplementedError

    def add_links(self, links: Iterable[Link]) -> None:
        """Record links (one row per list and section); a re-added link is no longer stale."""
        rows = [
            (
                link.url,
                canonical_url(link.url),
                link.anchor,
                link.source,
                json.dumps(list(link.section), ensure_ascii=False),
            )
            for link in links
        ]
        with self._lock:
            self._conn.executemany(
                "INSERT OR REPLACE INTO links (url, canonical, anchor, source, section, stale) "
                "VALUES (?, ?, ?, ?, ?, 0)",
                rows,
            )
            self._commit()

    def links_of(self, source: str) -> list[Link]:
        """The live links last read from `source` (re-extraction reads no list again)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT url, anchor, source, section FROM links WHERE source = ? AND stale = 0 "
                "ORDER BY rowid",
                (source,),
            ).fetchall()
        return [Link(str(u), str(a), str(s), tuple(json.loads(sec))) for u, a, s, sec in rows]

    def replace_links(self, source: str, links: list[Link]) -> int:
        """`links` are all of `source` now: its other links become stale. Returns how many."""
        with self.transaction():
            before = self._stale_count()
            self._conn.execute("UPDATE links SET stale = 1 WHERE source = ?", (source,))
            self.add_links(links)
            return self._stale_count() - before

    def retire_sources(self, kept: Iterable[str]) -> int:
        """Links of every list not in `kept` become stale (a run over all configured lists)."""
        keep = list(kept)
        marks = ", ".join("?" * len(keep)) or "''"
        with self.transaction():
            before = self._stale_count()
            self._conn.execute(f"UPDATE links SET stale = 1 WHERE source NOT IN ({marks})", keep)
            return self._stale_count() - before

    def _stale_count(self) -> int:
        row = self._conn.execute("SELECT COUNT(*) FROM links WHERE stale = 1").fetchone()
        return int(row[0])

    def _live_sections(self) -> tuple[dict[str, list[str]], set[str]]:
        """Topic paths of each linked canonical URL (live links only), and all linked URLs."""
        topics: dict[str, list[str]] = {}
        linked: set[str] = set()
        with self._lock:
            rows = self._conn.execute(
                "SELECT canonical, section, stale FROM links ORDER BY rowid"
            ).fetchall()
        for canonical, section, stale in rows:
            linked.add(str(canonical))
            if not stale:
                path = " / ".join(part for part in json.loads(section) if part)
                topics.setdefault(str(canonical), []).append(path)
        return topics, linked

    @staticmethod
    def _keys(article_id: int, url: str, aliases: dict[int, list[str]]) -> list[str]:
        """The canonical URLs an article is reached by (its own and its aliases')."""
        return list(dict.fromkeys([url, *map(canonical_url, aliases.get(article_id, []))]))

    def mark_stale_articles(self) -> int:
        """Flag articles that only removed links point at; unflag re-linked ones.

        Articles no list ever linked to (WARC and folder sources) are never stale.
        Returns the number of stale articles.
        """
        topics, linked = self._live_sections()
        aliases = self._aliases()
        flags = []
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, url FROM articles WHERE duplicate_of IS NULL"
            ).fetchall()
        for article_id, url in rows:
            keys = self._keys(int(article_id), str(url), aliases)
            stale = any(k in linked for k in keys) and not any(k in topics for k in keys)
            flags.append((int(stale), int(article_id)))
        with self.transaction():
            self._conn.executemany("UPDATE articles SET stale = ? WHERE id = ?", flags)
        return sum(flag for flag, _ in flags)
