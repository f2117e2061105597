"""The ledger: one row per URL (or local file) with what happened to it, and its summary."""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ingest.schema import host_of
from ingest.types import FetchResult
from ingest.urls import canonical_url

# Outcomes of a ledger row. "fetched" marks rows migrated from version 1 (outcome unknown).
ARTICLE, DUPLICATE, NEAR_DUPLICATE = "article", "duplicate", "near_duplicate"
SKIPPED, FAILED = "skipped", "failed"

_LEDGER_COLUMNS = (
    "url, final_url, status, content_type, etag, last_modified, content_hash, error, error_kind, "
    "fetched_at, retries, bytes, extract_chars, outcome, skip_kind, skip_reason, checked_at, host"
)


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def body_hash(body: bytes) -> str | None:
    return hashlib.sha1(body).hexdigest() if body else None


@dataclass(frozen=True)
class Entry:
    """What to write for one URL besides its FetchResult."""

    outcome: str
    skip_kind: str | None = None
    skip_reason: str | None = None
    extract_chars: int | None = None


@dataclass(frozen=True)
class Known:
    """What the ledger remembers of a URL fetched fine: validators and the body's hash."""

    etag: str | None
    last_modified: str | None
    content_hash: str | None


class Ledger:
    """Ledger methods of ArticleStore (which provides the connection and the lock)."""

    _conn: sqlite3.Connection
    _lock: threading.RLock

    def _commit(self) -> None:
        raise NotImplementedError  # ArticleStore commits unless inside a transaction

    def record_fetch(
        self, result: FetchResult, key: str | None = None, entry: Entry | None = None
    ) -> None:
        """Store the outcome for `key` (default: the canonical form of the requested URL)."""
        key = key or canonical_url(result.url)
        if entry is None:
            entry = Entry(FAILED if result.error is not None else SKIPPED)
        stamp = now()
        row = (
            key,
            result.final_url,
            result.status,
            result.content_type,
            result.etag,
            result.last_modified,
            body_hash(result.body),
            result.error,
            result.error_kind,
            stamp,
            result.retries,
            len(result.body),
            entry.extract_chars,
            entry.outcome,
            entry.skip_kind,
            entry.skip_reason,
            stamp,
            host_of(key),
        )
        marks = ", ".join("?" * len(row))
        with self._lock:
            self._conn.execute(
                f"INSERT OR REPLACE INTO fetches ({_LEDGER_COLUMNS}) VALUES ({marks})", row
            )
            self._commit()

    def record_checked(self, key: str, result: FetchResult) -> None:
        """A revalidation found `key` unchanged: only the check time and validators move."""
        with self._lock:
            self._conn.execute(
                "UPDATE fetches SET checked_at = ?, retries = ?, "
                "etag = COALESCE(?, etag), last_modified = COALESCE(?, last_modified) "
                "WHERE url = ?",
                (now(), result.retries, result.etag, result.last_modified, key),
            )
            self._commit()

    def fetched_ok(self) -> set[str]:
        """Canonical URLs whose last fetch succeeded: an incremental run skips them."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT url FROM fetches WHERE error IS NULL AND status BETWEEN 200 AND 299"
            ).fetchall()
        return {str(row[0]) for row in rows}

    def known(self, keys: Iterable[str] | None = None) -> dict[str, Known]:
        """Validators and body hash of every URL fetched fine (of `keys`, when given)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT url, etag, last_modified, content_hash FROM fetches "
                "WHERE error IS NULL AND status BETWEEN 200 AND 299"
            ).fetchall()
        wanted = None if keys is None else set(keys)
        return {str(u): Known(e, m, h) for u, e, m, h in rows if wanted is None or str(u) in wanted}

    def failures(self, limit: int = 100) -> list[tuple[str, str, str]]:
        """(url, error_kind, error) of failed fetches, newest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT url, error_kind, error FROM fetches WHERE error IS NOT NULL "
                "ORDER BY fetched_at DESC, url LIMIT ?",
                (limit,),
            ).fetchall()
        return [(str(u), str(k or ""), str(e)) for u, k, e in rows]

    def ledger_summary(self, top: int = 10) -> dict[str, Any]:
        """Counts by outcome and by site, and the top failure kinds with an example URL each.

        A failure kind is a fetch error kind (http_404, timeout, ...) or the kind of page
        that was not an article (login_wall, deleted, listing, ...).
        """
        with self._lock:
            outcomes = self._conn.execute(
                "SELECT COALESCE(outcome, 'unknown'), COUNT(*) FROM fetches GROUP BY 1 "
                "ORDER BY 2 DESC, 1"
            ).fetchall()
            sites = self._conn.execute(
                "SELECT host, COALESCE(outcome, 'unknown'), COUNT(*) FROM fetches "
                "GROUP BY 1, 2 ORDER BY 1, 2"
            ).fetchall()
            kinds = self._conn.execute(
                "SELECT COALESCE(error_kind, skip_kind) AS kind, COUNT(*), MIN(url), "
                # SQLite takes bare columns from the MIN() row: the reason matches the URL.
                "COALESCE(error, skip_reason) FROM fetches WHERE kind IS NOT NULL "
                "GROUP BY kind ORDER BY 2 DESC, 1 LIMIT ?",
                (top,),
            ).fetchall()
        by_site: dict[str, dict[str, int]] = {}
        for host, outcome, count in sites:
            by_site.setdefault(str(host), {})[str(outcome)] = int(count)
        ranked = sorted(by_site.items(), key=lambda item: (-sum(item[1].values()), item[0]))
        return {
            "outcomes": {str(o): int(n) for o, n in outcomes},
            "sites": dict(ranked[:top]),
            "failure_kinds": {
                str(k): {"count": int(n), "example": str(u), "reason": str(r or "")}
                for k, n, u, r in kinds
            },
        }
