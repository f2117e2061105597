"""The Search tab's logic and HTML: filters, ranked passages, highlighted query terms.

No Gradio import. Highlighting escapes the text first and then wraps the query's terms,
so a `<script>` in an article stays text, and a term can never match inside an entity.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from html import escape

from index import Hit, tokenize
from ui.cards import esc, link, site_of
from ui.render import snippet

ANY = "(any)"  # the filter choice that keeps everything
_ENTITY = re.compile(r"(&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);)")
_OVERFETCH = 5  # hits fetched per wanted hit when the UI filters by itself
_SNIPPET = 420

SearchFn = Callable[..., list[Hit]]


def query_terms(query: str) -> list[str]:
    """The query's search terms worth highlighting, longest first (so "zero-3" wins over "zero")."""
    terms = {t for t in tokenize(query) if len(t) > 1}  # lone characters light up everything
    terms |= {word.lower() for word in query.split() if len(word) > 1}
    return sorted(terms, key=lambda t: (-len(t), t))


def highlight(text: str, terms: list[str]) -> str:
    """`text` escaped, with every occurrence of a term wrapped in <mark> (case-insensitive)."""
    escaped = escape(text, quote=True)
    if not terms:
        return escaped
    pattern = re.compile("|".join(re.escape(escape(t, quote=True)) for t in terms), re.IGNORECASE)
    pieces = _ENTITY.split(escaped)  # odd pieces are entities: never highlight inside them
    return "".join(
        piece if i % 2 else pattern.sub(lambda m: f"<mark>{m.group(0)}</mark>", piece)
        for i, piece in enumerate(pieces)
    )


def matches(hit: Hit, section: str, site: str) -> bool:
    """True when the hit's reading-list topic lies under `section` and its host is `site`."""
    topic = hit.chunk.topic
    if section and section != ANY and not (topic == section or topic.startswith(section + " / ")):
        return False
    return not (site and site != ANY and site_of(hit.chunk.url) != site)


def _accepts_filters(search: SearchFn) -> bool:
    try:
        params = inspect.signature(search).parameters
    except (TypeError, ValueError):
        return False
    return "section" in params and "site" in params


def filtered_search(search: SearchFn, query: str, k: int, section: str, site: str) -> list[Hit]:
    """The top `k` hits in `section` and on `site`.

    Uses the search's own `section=`/`site=` arguments when it has them; otherwise fetches
    more hits and filters here, so the tab works before and after search learns filters.
    """
    wanted = {"section": section if section != ANY else None, "site": site if site != ANY else None}
    if not any(wanted.values()):
        return search(query, k=k)
    if _accepts_filters(search):
        return search(query, k=k, **wanted)
    kept = [h for h in search(query, k=k * _OVERFETCH) if matches(h, section, site)][:k]
    return [h._replace(rank=i) for i, h in enumerate(kept, 1)]


def hits_html(hits: list[Hit], query: str) -> str:
    """Ranked passages: rank, title link, site, topic, heading, score, highlighted snippet."""
    if not hits:
        return '<p class="lr-empty">No matching passages.</p>'
    terms = query_terms(query)
    rows = []
    for hit in hits:
        chunk = hit.chunk
        meta = [p for p in (site_of(chunk.url), chunk.topic, chunk.heading) if p]
        scores = f"score {hit.score:.4f}"
        if hit.dense or hit.lexical:
            scores += f" (cosine {hit.dense:.2f}, BM25 {hit.lexical:.1f})"
        rows.append(
            f'<div class="lr-hit"><div class="lr-card-head"><span class="lr-n">{hit.rank}</span>'
            f"{link(chunk.url, chunk.title.strip() or chunk.url, 'lr-title')}</div>"
            f'<div class="lr-meta">{esc(" · ".join(meta))} · <span class="lr-score">'
            f"{scores}</span></div>"
            f'<p class="lr-snippet">{highlight(snippet(chunk.text, _SNIPPET), terms)}</p></div>'
        )
    return f'<div class="lr-hits">{"".join(rows)}</div>'
