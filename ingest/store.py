"""The article store: one SQLite file (WAL) per data dir; every article is committed alone."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from ingest import schema
from ingest.ledger import Ledger, now
from ingest.linkstore import LinkTable
from ingest.schema import StoreError
from ingest.types import Article, SourceSpec
from ingest.urls import canonical_url

__all__ = ["DB_NAME", "ArticleStore", "StoreError", "StoreStats"]

DB_NAME = "linkrag.sqlite"
SCHEMA_VERSION = str(schema.SCHEMA_VERSION)

_ARTICLE_COLUMNS = "id, url, title, author, date, language, text, text_hash, topic"


@dataclass(frozen=True)
class StoreStats:
    articles: int  # unique articles (duplicates and stale ones excluded)
    links: int
    fetch_failures: int
    fetches: int
    duplicates: int = 0  # exact and near duplicates merged into another article
    stale: int = 0  # articles no reading list links to any more (kept, not indexed)


class ArticleStore(Ledger, LinkTable):
    """Articles, links, aliases and the per-URL ledger in `data_dir/linkrag.sqlite`.

    Every write commits at once, except inside `transaction()`, which commits (or rolls
    back) everything written for one article together.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._lock = threading.RLock()  # the pipeline may write from its fetch thread
        self._depth = 0  # open transaction() blocks

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes: all are committed at the end, none if an exception escapes."""
        with self._lock:
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    self._conn.rollback()
                raise
            self._depth -= 1
            self._commit()

    def _commit(self) -> None:
        if self._depth == 0:
            self._conn.commit()

    @classmethod
    def open(cls, data_dir: Path) -> ArticleStore:
        data_dir = Path(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / DB_NAME
        conn = sqlite3.connect(path, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at each commit's end
        conn.execute("PRAGMA foreign_keys=ON")
        try:
            schema.prepare(conn, str(path))
        except BaseException:
            conn.close()
            raise
        return cls(conn, path)

    def _write(self, sql: str, params: Iterable[object] = ()) -> sqlite3.Cursor:
        with self._lock:
            cursor = self._conn.execute(sql, tuple(params))
            self._commit()
            return cursor

    def _one(self, sql: str, params: Iterable[object] = ()) -> tuple[object, ...] | None:
        with self._lock:
            row: tuple[object, ...] | None = self._conn.execute(sql, tuple(params)).fetchone()
            return row

    # sources and links

    def record_source(self, spec: SourceSpec) -> None:
        self._write(
            "INSERT OR REPLACE INTO sources VALUES (?, ?, ?)", (str(spec), spec.kind.value, now())
        )

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
        with self.transaction():
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
                    now(),
                ),
            )
            article_id = int(cursor.lastrowid or 0)
            target = duplicate_of if duplicate_of is not None else article_id
            self._insert_aliases([article.url, *article.aliases], target)
        return article_id

    def update_article(self, article_id: int, article: Article) -> None:
        with self.transaction():
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
                    now(),
                    article_id,
                ),
            )
            self._insert_aliases(article.aliases, article_id)

    def add_aliases(self, urls: Iterable[str], article_id: int) -> None:
        with self.transaction():
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

    def _reader(self, aliases: dict[int, list[str]]) -> Callable[[tuple[object, ...]], Article]:
        """Turns rows into Articles, with every live topic path of the article's links."""
        sections, _ = self._live_sections()

        def read(row: tuple[object, ...]) -> Article:
            article_id = int(str(row[0]))
            stored = str(row[8] or "")
            keys = self._keys(article_id, str(row[1]), aliases)
            found = [path for key in keys for path in sections.get(key, [])]
            topics = [t for t in dict.fromkeys([stored, *found]) if t]
            return Article(
                id=article_id,
                url=str(row[1]),
                title=str(row[2]),
                author=None if row[3] is None else str(row[3]),
                date=None if row[4] is None else str(row[4]),
                language=None if row[5] is None else str(row[5]),
                text=str(row[6]),
                text_hash=str(row[7]),
                topic=topics[0] if topics else "",
                topics=topics,
                aliases=aliases.get(article_id, []),
            )

        return read

    def iter_articles(self) -> Iterator[Article]:
        """Every unique, live article (duplicates and stale ones excluded), ordered by id."""
        read = self._reader(self._aliases())
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_ARTICLE_COLUMNS} FROM articles "
                "WHERE duplicate_of IS NULL AND stale = 0 ORDER BY id"
            ).fetchall()
        for row in rows:
            yield read(tuple(row))

    def get_article(self, article_id: int) -> Article | None:
        row = self._one(f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id = ?", (article_id,))
        return None if row is None else self._reader(self._aliases(article_id))(row)

    # near-duplicate signatures

    def unsigned_articles(self) -> list[tuple[int, str]]:
        """(id, text) of unique articles without a stored MinHash signature."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, text FROM articles WHERE duplicate_of IS NULL AND id NOT IN "
                "(SELECT article_id FROM signatures) ORDER BY id"
            ).fetchall()
        return [(int(i), str(t)) for i, t in rows]

    def save_signature(self, article_id: int, minhash: bytes) -> None:
        self._write("INSERT OR REPLACE INTO signatures VALUES (?, ?)", (article_id, minhash))

    def signatures(self) -> list[tuple[int, bytes]]:
        """(article id, MinHash values) of every unique article, stale ones included."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT s.article_id, s.minhash FROM signatures s JOIN articles a "
                "ON a.id = s.article_id WHERE a.duplicate_of IS NULL ORDER BY s.article_id"
            ).fetchall()
        return [(int(i), bytes(b)) for i, b in rows]

    def stats(self) -> StoreStats:
        def count(sql: str) -> int:
            row = self._one(sql)
            return int(str(row[0])) if row else 0

        return StoreStats(
            articles=count(
                "SELECT COUNT(*) FROM articles WHERE duplicate_of IS NULL AND stale = 0"
            ),
            links=count("SELECT COUNT(DISTINCT canonical) FROM links WHERE stale = 0"),
            fetch_failures=count("SELECT COUNT(*) FROM fetches WHERE error IS NOT NULL"),
            fetches=count("SELECT COUNT(*) FROM fetches"),
            duplicates=count("SELECT COUNT(*) FROM articles WHERE duplicate_of IS NOT NULL"),
            stale=count("SELECT COUNT(*) FROM articles WHERE duplicate_of IS NULL AND stale = 1"),
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
