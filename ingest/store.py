"""The article store: one SQLite file (WAL) per data dir; every article is committed alone."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from ingest.types import Article, FetchResult, Link, SourceSpec
from ingest.urls import canonical_url

DB_NAME = "linkrag.sqlite"
SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources (
    spec TEXT PRIMARY KEY, kind TEXT NOT NULL, last_run TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS links (
    url TEXT NOT NULL, canonical TEXT NOT NULL, anchor TEXT NOT NULL, source TEXT NOT NULL,
    section TEXT NOT NULL, PRIMARY KEY (canonical, source));
CREATE TABLE IF NOT EXISTS fetches (
    url TEXT PRIMARY KEY, final_url TEXT, status INTEGER, content_type TEXT, etag TEXT,
    last_modified TEXT, content_hash TEXT, error TEXT, error_kind TEXT, fetched_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id INTEGER PRIMARY KEY, url TEXT NOT NULL UNIQUE, title TEXT NOT NULL, author TEXT,
    date TEXT, language TEXT, text TEXT NOT NULL, text_hash TEXT NOT NULL,
    topic TEXT NOT NULL DEFAULT '', duplicate_of INTEGER REFERENCES articles(id),
    updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS articles_text_hash ON articles(text_hash);
CREATE TABLE IF NOT EXISTS aliases (
    url TEXT PRIMARY KEY, article_id INTEGER NOT NULL REFERENCES articles(id));
CREATE INDEX IF NOT EXISTS aliases_article ON aliases(article_id);
"""

_ARTICLE_COLUMNS = "id, url, title, author, date, language, text, text_hash, topic"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class StoreStats:
    articles: int  # unique articles (duplicates excluded)
    links: int
    fetch_failures: int
    fetches: int
    duplicates: int = 0  # exact-text duplicates merged into another article


class ArticleStore:
    """Articles, links, aliases and per-URL fetch outcomes in `data_dir/linkrag.sqlite`."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._lock = threading.RLock()  # the pipeline may write from its fetch thread

    @classmethod
    def open(cls, data_dir: Path) -> ArticleStore:
        data_dir = Path(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / DB_NAME
        conn = sqlite3.connect(path, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at each commit's end
        conn.execute("PRAGMA foreign_keys=ON")
        conn.executescript(_SCHEMA)
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        conn.commit()
        return cls(conn, path)

    def _write(self, sql: str, params: Iterable[object] = ()) -> sqlite3.Cursor:
        with self._lock:
            cursor = self._conn.execute(sql, tuple(params))
            self._conn.commit()
            return cursor

    def _one(self, sql: str, params: Iterable[object] = ()) -> tuple[object, ...] | None:
        with self._lock:
            row: tuple[object, ...] | None = self._conn.execute(sql, tuple(params)).fetchone()
            return row

    # sources and links

    def record_source(self, spec: SourceSpec) -> None:
        self._write(
            "INSERT OR REPLACE INTO sources VALUES (?, ?, ?)", (str(spec), spec.kind.value, _now())
        )

    def add_links(self, links: Iterable[Link]) -> None:
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
            self._conn.executemany("INSERT OR REPLACE INTO links VALUES (?, ?, ?, ?, ?)", rows)
            self._conn.commit()

    # fetches

    def record_fetch(self, result: FetchResult, key: str | None = None) -> None:
        """Store the outcome for `key` (default: the canonical form of the requested URL)."""
        digest = hashlib.sha1(result.body).hexdigest() if result.body else None
        self._write(
            "INSERT OR REPLACE INTO fetches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key or canonical_url(result.url),
                result.final_url,
                result.status,
                result.content_type,
                result.etag,
                result.last_modified,
                digest,
                result.error,
                result.error_kind,
                _now(),
            ),
        )

    def fetched_ok(self) -> set[str]:
        """Canonical URLs whose last fetch succeeded: an incremental run skips them."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT url FROM fetches WHERE error IS NULL AND status BETWEEN 200 AND 299"
            ).fetchall()
        return {str(row[0]) for row in rows}

    def failures(self, limit: int = 100) -> list[tuple[str, str, str]]:
        """(url, error_kind, error) of failed fetches, newest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT url, error_kind, error FROM fetches WHERE error IS NOT NULL "
                "ORDER BY fetched_at DESC, url LIMIT ?",
                (limit,),
            ).fetchall()
        return [(str(u), str(k or ""), str(e)) for u, k, e in rows]

    # articles

    def find_by_url(self, url: str) -> tuple[int, str] | None:
        """(id, text hash) of the article reached by `url` (canonical or alias)."""
        key = canonical_url(url)
        row = self._one(
            "SELECT a.id, a.text_hash FROM articles a WHERE a.url = ? UNION ALL "
            "SELECT a.id, a.text_hash FROM aliases l JOIN articles a ON a.id = l.article_id "
            "WHERE l.url IN (?, ?) LIMIT 1",
            (key, key, url),
        )
        return (int(str(row[0])), str(row[1])) if row else None

    def find_by_hash(self, text_hash: str) -> int | None:
        row = self._one(
            "SELECT id FROM articles WHERE text_hash = ? AND duplicate_of IS NULL "
            "ORDER BY id LIMIT 1",
            (text_hash,),
        )
        return int(str(row[0])) if row else None

    def add_article(self, article: Article, duplicate_of: int | None = None) -> int:
        """Insert an article and its aliases in one transaction; returns its id."""
        with self._lock, self._conn:
            cursor = self._conn.execute(
                "INSERT INTO articles (url, title, author, date, language, text, text_hash, "
                "topic, duplicate_of, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    article.url,
                    article.title,
                    article.author,
                    article.date,
                    article.language,
                    article.text if duplicate_of is None else "",
                    article.text_hash,
                    article.topic,
                    duplicate_of,
                    _now(),
                ),
            )
            article_id = int(cursor.lastrowid or 0)
            target = duplicate_of if duplicate_of is not None else article_id
            self._insert_aliases([article.url, *article.aliases], target)
        return article_id

    def update_article(self, article_id: int, article: Article) -> None:
        with self._lock, self._conn:
            self._conn.execute(
                "UPDATE articles SET title=?, author=?, date=?, language=?, text=?, text_hash=?, "
                "topic=CASE WHEN ? = '' THEN topic ELSE ? END, updated_at=? WHERE id=?",
                (
                    article.title,
                    article.author,
                    article.date,
                    article.language,
                    article.text,
                    article.text_hash,
                    article.topic,
                    article.topic,
                    _now(),
                    article_id,
                ),
            )
            self._insert_aliases(article.aliases, article_id)

    def add_aliases(self, urls: Iterable[str], article_id: int) -> None:
        with self._lock, self._conn:
            self._insert_aliases(urls, article_id)

    def _insert_aliases(self, urls: Iterable[str], article_id: int) -> None:
        rows = [(url, article_id) for url in dict.fromkeys(u for u in urls if u)]
        self._conn.executemany("INSERT OR IGNORE INTO aliases VALUES (?, ?)", rows)

    def _aliases(self, article_id: int | None = None) -> dict[int, list[str]]:
        sql = "SELECT article_id, url FROM aliases"
        params: tuple[object, ...] = ()
        if article_id is not None:
            sql, params = sql + " WHERE article_id = ?", (article_id,)
        found: dict[int, list[str]] = {}
        with self._lock:
            for owner, url in self._conn.execute(sql + " ORDER BY rowid", params):
                found.setdefault(int(owner), []).append(str(url))
        return found

    @staticmethod
    def _article(row: tuple[object, ...], aliases: dict[int, list[str]]) -> Article:
        article_id = int(str(row[0]))
        return Article(
            id=article_id,
            url=str(row[1]),
            title=str(row[2]),
            author=None if row[3] is None else str(row[3]),
            date=None if row[4] is None else str(row[4]),
            language=None if row[5] is None else str(row[5]),
            text=str(row[6]),
            text_hash=str(row[7]),
            topic=str(row[8] or ""),
            aliases=aliases.get(article_id, []),
        )

    def iter_articles(self) -> Iterator[Article]:
        """Every unique article (duplicates excluded), ordered by id."""
        aliases = self._aliases()
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE duplicate_of IS NULL ORDER BY id"
            ).fetchall()
        for row in rows:
            yield self._article(tuple(row), aliases)

    def get_article(self, article_id: int) -> Article | None:
        row = self._one(f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id = ?", (article_id,))
        return None if row is None else self._article(row, self._aliases(article_id))

    def stats(self) -> StoreStats:
        def count(sql: str) -> int:
            row = self._one(sql)
            return int(str(row[0])) if row else 0

        return StoreStats(
            articles=count("SELECT COUNT(*) FROM articles WHERE duplicate_of IS NULL"),
            links=count("SELECT COUNT(DISTINCT canonical) FROM links"),
            fetch_failures=count("SELECT COUNT(*) FROM fetches WHERE error IS NOT NULL"),
            fetches=count("SELECT COUNT(*) FROM fetches"),
            duplicates=count("SELECT COUNT(*) FROM articles WHERE duplicate_of IS NOT NULL"),
        )

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> ArticleStore:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
