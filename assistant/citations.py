"""Citation checks as pure functions: markers resolved, quotes located in their article."""

from __future__ import annotations

import re

from assistant.types import Citation
from index import Chunk

_MARKER = re.compile(r"\s?\[(\d+)\]")


def resolve_markers(text: str, citations: list[Citation]) -> str:
    """Drop `[n]` markers that name no citation (a model may invent them)."""
    known = {c.n for c in citations}
    return _MARKER.sub(lambda m: m.group(0) if int(m.group(1)) in known else "", text)


def quote_span(quote: str, chunk: Chunk) -> tuple[int, int] | None:
    """Where `quote` sits in the article text (chunk offsets + position), or None."""
    at = chunk.text.find(quote)
    if not quote or at < 0:
        return None
    return chunk.start + at, chunk.start + at + len(quote)


def verify_citation(citation: Citation, chunk: Chunk, article_text: str | None = None) -> bool:
    """True when the quote is verbatim in the chunk and, if given, at its article offsets."""
    if citation.chunk_id != chunk.chunk_id or citation.url != chunk.url:
        return False
    span = quote_span(citation.quote, chunk)
    if span is None:
        return False
    return article_text is None or article_text[span[0] : span[1]] == citation.quote
