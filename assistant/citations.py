"""Citation checks as pure functions: markers resolved, quotes located in their article.

`text_fragment` lives here (not in ui/) because the answerers build citation links and
dependencies point ui → assistant, never back.
"""

from __future__ import annotations

import re
from urllib.parse import quote as percent_encode

from assistant.types import Citation
from index import Chunk

_MARKER = re.compile(r"\s?\[(\d+)\]")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MARKUP = re.compile(r"[*_`~<>#|]+")
_FRAGMENT_WORDS = 5  # long quotes use textStart,textEnd with this many words each


def _plain(text: str) -> str:
    """What a browser shows for a line of markdown: link text kept, markup dropped."""
    return " ".join(_MARKUP.sub(" ", _LINK.sub(r"\1", text)).split())


def _encode(text: str) -> str:
    # '-', ',' and '&' are syntax inside a text directive, so they must be escaped too.
    return percent_encode(text, safe="").replace("-", "%2D")


def text_fragment(quote: str) -> str:
    """A `#:~:text=` fragment that makes the browser scroll to and highlight `quote`."""
    plain = _plain(quote)
    if not plain:
        return ""
    words = plain.split(" ")
    if len(words) > 2 * _FRAGMENT_WORDS:
        start = " ".join(words[:_FRAGMENT_WORDS])
        end = " ".join(words[-_FRAGMENT_WORDS:])
        return f"#:~:text={_encode(start)},{_encode(end)}"
    return f"#:~:text={_encode(plain)}"


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
