"""Value types produced by the assistant."""

from __future__ import annotations

from dataclasses import dataclass, field

from index import Hit


@dataclass(frozen=True)
class Citation:
    """A numbered source behind an answer; `quote` occurs verbatim in the article.

    `n` numbers the cited passage; a passage quoted twice appears twice with the same `n`.
    """

    n: int
    url: str
    title: str
    quote: str
    chunk_id: str


@dataclass
class Answer:
    """An answer whose text carries `[n]` markers resolved in `citations`."""

    text: str
    citations: list[Citation] = field(default_factory=list)
    abstained: bool = False
    passages: list[Hit] = field(default_factory=list)
