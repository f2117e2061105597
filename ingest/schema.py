"""The article store's SQLite schema, and the migration of older stores to it."""

from __future__ import annotations

import sqlite3
from urllib.parse import urlsplit

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources (
    spec TEXT PRIMARY KEY, kind TEXT NOT NULL, last_run TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS links (
    url TEXT NOT NULL, canonical TEXT NOT NULL, anchor TEXT NOT NULL, source TEXT NOT NULL,
    section TEXT NOT NULL, stale INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (canonical, source, section));
CREATE TABLE IF NOT EXISTS fetches (
    url TEXT PRIMARY KEY, final_url TEXT, status INTEGER, content_type TEXT, etag TEXT,
    last_modified TEXT, content_hash TEXT, error TEXT, error_kind TEXT, fetched_at TEXT NOT NULL,
    retries INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0,
    extract_chars INTEGER, outcome TEXT, skip_kind TEXT, skip_reason TEXT, checked_at TEXT,
    host TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS articles (
    id INTEGER PRIMARY KEY, url TEXT NOT NULL UNIQUE, title TEXT NOT NULL, author TEXT,
    date TEXT, language TEXT, text TEXT NOT NULL, text_hash TEXT NOT NULL,
    topic TEXT NOT NULL DEFAULT '', duplicate_of INTEGER REFERENCES articles(id),
    updated_at TEXT NOT NULL, stale INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS articles_text_hash ON articles(text_hash);
CREATE TABLE IF NOT EXISTS aliases (
    url TEXT PRIMARY KEY, article_id INTEGER NOT NULL REFERENCES articles(id));
CREATE INDEX IF NOT EXISTS aliases_article ON aliases(article_id);
CREATE TABLE IF NOT EXISTS signatures (
    article_id INTEGER PRIMARY KEY REFERENCES articles(id), minhash BLOB NOT NULL);
"""

# Version 1 → 2: ledger columns on fetches, stale flags, one links row per section
# (version 1 kept one per list), MinHash signatures. Every old row is kept.
_V1_TO_V2 = """
ALTER TABLE fetches ADD COLUMN retries INTEGER NOT NULL DEFAULT 0;
ALTER TABLE fetches ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE fetches ADD COLUMN extract_chars INTEGER;
ALTER TABLE fetches ADD COLUMN outcome TEXT;
ALTER TABLE fetches ADD COLUMN skip_kind TEXT;
ALTER TABLE fetches ADD COLUMN skip_reason TEXT;
ALTER TABLE fetches ADD COLUMN checked_at TEXT;
ALTER TABLE fetches ADD COLUMN host TEXT NOT NULL DEFAULT '';
UPDATE fetches SET outcome = CASE WHEN error IS NULL THEN 'fetched' ELSE 'failed' END,
    checked_at = fetched_at;
ALTER TABLE articles ADD COLUMN stale INTEGER NOT NULL DEFAULT 0;
ALTER TABLE links RENAME TO links_v1;
CREATE TABLE links (
    url TEXT NOT NULL, canonical TEXT NOT NULL, anchor TEXT NOT NULL, source TEXT NOT NULL,
    section TEXT NOT NULL, stale INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (canonical, source, section));
INSERT INTO links (url, canonical, anchor, source, section)
    SELECT url, canonical, anchor, source, section FROM links_v1;
DROP TABLE links_v1;
"""


class StoreError(RuntimeError):
    """A store this version of linkrag cannot use, worded as one line with the fix."""

    cause = (
        "The SQLite store in `data_dir` was written by a newer linkrag, or migrating an "
        "older store failed."
    )
    fix = (
        "Upgrade linkrag or use another data dir (`LINKRAG_DATA`); after a failed "
        "migration (the store is unchanged), fix the SQLite problem named and rerun."
    )


def _version(conn: sqlite3.Connection) -> int | None:
    has_meta = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    ).fetchone()
    if not has_meta:
        return None
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row and str(row[0]).isdigit() else None


def prepare(conn: sqlite3.Connection, where: str) -> None:
    """Create the schema, migrate a version-1 store, refuse a newer one."""
    version = _version(conn)
    if version is not None and version > SCHEMA_VERSION:
        raise StoreError(
            f"the store {where} has schema version {version}, newer than this linkrag "
            f"understands ({SCHEMA_VERSION}): upgrade linkrag or use another data dir"
        )
    if version == 1:
        # executescript commits first, so the migration runs as one explicit transaction.
        try:
            conn.executescript(f"BEGIN;\n{_V1_TO_V2}\nCOMMIT;")
        except sqlite3.Error as exc:
            conn.rollback()
            raise StoreError(f"cannot migrate the store {where} to version 2: {exc}") from exc
        _hosts_v1(conn)
    conn.executescript(_SCHEMA)
    conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    conn.commit()


def _hosts_v1(conn: sqlite3.Connection) -> None:
    """Fill the host column of migrated ledger rows (SQLite cannot parse URLs itself)."""
    rows = conn.execute("SELECT url FROM fetches").fetchall()
    hosts = [(host_of(str(url)), url) for (url,) in rows]
    conn.executemany("UPDATE fetches SET host = ? WHERE url = ?", hosts)
    conn.commit()


def host_of(key: str) -> str:
    """The site a ledger key belongs to: the URL's host, or "local" for files."""
    parts = urlsplit(key)
    return (parts.hostname or "") if parts.scheme in ("http", "https") else "local"
