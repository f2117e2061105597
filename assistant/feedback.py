"""👍/👎 feedback on answers, kept in `data_dir/feedback.sqlite` and exported as JSONL.

A separate file from the article store on purpose: feedback is the users' data, it
survives deleting and rebuilding the store and the index, and the UI writes it from
many request threads, so every call opens its own short-lived connection.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

FEEDBACK_DB = "feedback.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY, time TEXT NOT NULL, rating INTEGER NOT NULL,
    question TEXT NOT NULL, answer TEXT NOT NULL, citations TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Feedback:
    """One rating: +1 (👍) or -1 (👎) on an answer, with what the user was shown."""

    question: str
    answer: str
    citations: list[dict[str, Any]]
    rating: int
    time: str = ""
    id: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "time": self.time,
            "rating": self.rating,
            "question": self.question,
            "answer": self.answer,
            "citations": self.citations,
        }


class FeedbackStore:
    """Ratings in one SQLite file; safe to use from several threads at once."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def in_dir(cls, data_dir: Path) -> FeedbackStore:
        return cls(Path(data_dir) / FEEDBACK_DB)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=10)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(_SCHEMA)
        return conn

    def add(self, feedback: Feedback) -> int:
        """Store one rating; returns its id. The rating must be +1 or -1."""
        if feedback.rating not in (1, -1):
            raise ValueError(f"rating must be 1 or -1, not {feedback.rating!r}")
        stamp = feedback.time or datetime.now(UTC).isoformat(timespec="seconds")
        cites = json.dumps(feedback.citations, ensure_ascii=False)
        with closing(self._connect()) as conn, conn:
            cursor = conn.execute(
                "INSERT INTO feedback (time, rating, question, answer, citations) "
                "VALUES (?, ?, ?, ?, ?)",
                (stamp, feedback.rating, feedback.question, feedback.answer, cites),
            )
            return int(cursor.lastrowid or 0)

    def __iter__(self) -> Iterator[Feedback]:
        """Every rating, oldest first (nothing when no rating was ever stored)."""
        if not self.path.exists():
            return
        with closing(self._connect()) as conn:
            rows = conn.execute(
                "SELECT id, time, rating, question, answer, citations FROM feedback ORDER BY id"
            ).fetchall()
        for id_, stamp, rating, question, answer, cites in rows:
            yield Feedback(str(question), str(answer), json.loads(cites), int(rating), stamp, id_)

    def export(self, out: TextIO) -> int:
        """Write every rating as one JSON object per line; returns how many."""
        count = 0
        for feedback in self:
            out.write(json.dumps(feedback.as_json(), ensure_ascii=False) + "\n")
            count += 1
        return count
