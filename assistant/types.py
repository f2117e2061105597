"""Value types produced by the assistant."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from index import Hit


@dataclass(frozen=True)
class Citation:
    """A numbered source behind an answer; `quote` occurs verbatim in the article.

    `n` numbers the cited passage; a passage quoted twice appears twice with the same `n`.
    `start`/`end` locate the quote in the article text (None when unknown), and
    `fragment_url` is the article URL with a `#:~:text=` fragment scrolling to it.
    """

    n: int
    url: str
    title: str
    quote: str
    chunk_id: str
    start: int | None = None
    end: int | None = None
    fragment_url: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields."""
        return asdict(self)


@dataclass
class Answer:
    """An answer whose text carries `[n]` markers resolved in `citations`.

    `unsupported` lists sentences no passage supports (shown flagged, never cited);
    `notice` says when something degraded (an LLM endpoint failed, a fallback answered);
    `rewritten_query` is the standalone query used for retrieval when it differs.
    """

    text: str
    citations: list[Citation] = field(default_factory=list)
    abstained: bool = False
    passages: list[Hit] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    notice: str = ""
    rewritten_query: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields; passages are summarised (rank, url, title, chunk, score)."""
        return {
            "text": self.text,
            "citations": [c.to_dict() for c in self.citations],
            "abstained": self.abstained,
            "unsupported": list(self.unsupported),
            "notice": self.notice,
            "rewritten_query": self.rewritten_query,
            "passages": [
                {
                    "rank": hit.rank,
                    "url": hit.chunk.url,
                    "title": hit.chunk.title,
                    "chunk_id": hit.chunk.chunk_id,
                    "score": hit.score,
                    "start": hit.chunk.start,
                    "end": hit.chunk.end,
                }
                for hit in self.passages
            ],
        }
