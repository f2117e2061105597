"""Answers as HTML for the chat: inline `[n]` links to source cards, and the cards.

Pure functions, no Gradio import. Article text is data, never markup: every title,
quote, topic and URL is escaped here before it reaches the page, and only http(s)
URLs become links.

Fields that newer `Answer`s carry (`unsupported`, `notice`, `rewritten_query`) are read
with getattr, so this renders answers from before and after they were added.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from html import escape
from urllib.parse import urlsplit

from assistant import Answer, Citation
from assistant.citations import text_fragment
from index import Hit

_MARKER = re.compile(r"\[(\d+)\]")
_BREAKS = re.compile(r"[\r\n]+")
_NEAREST = 5  # articles shown when an answer abstains
UNSUPPORTED_TITLE = "No cited passage supports this sentence"


def esc(text: object) -> str:
    """HTML-escape anything shown on the page, quotes included (safe in attributes too)."""
    return escape(str(text), quote=True)


def safe_url(url: str) -> str | None:
    """The URL if a browser may follow it (http or https), else None: no javascript:."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def site_of(url: str) -> str:
    """The host a reader recognises ("zhuanlan.zhihu.com"), without "www."."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.removeprefix("www.")


def link(url: str, label: str, css: str = "", fragment: str = "") -> str:
    """An escaped link opening in a new tab, or the escaped label alone for unsafe URLs."""
    target = safe_url(url)
    if target is None:
        return f'<span class="{css}">{esc(label)}</span>' if css else esc(label)
    cls = f' class="{css}"' if css else ""
    href = esc(target + fragment)
    return f'<a{cls} href="{href}" target="_blank" rel="noopener noreferrer">{esc(label)}</a>'


def _topics(passages: Iterable[Hit]) -> dict[str, str]:
    return {hit.chunk.chunk_id: hit.chunk.topic for hit in passages}


def _grouped(citations: Iterable[Citation]) -> dict[int, list[Citation]]:
    groups: dict[int, list[Citation]] = {}
    for citation in citations:
        groups.setdefault(citation.n, []).append(citation)
    return dict(sorted(groups.items()))


def answer_body(answer: Answer, anchor: str) -> str:
    """The answer's sentences, escaped; `[n]` links to card n; unsupported ones marked."""
    body = esc(answer.text.strip())
    for sentence in getattr(answer, "unsupported", None) or []:
        needle = esc(str(sentence).strip())
        if needle and needle in body:
            marked = f'<span class="lr-unsupported" title="{UNSUPPORTED_TITLE}">{needle}</span>'
            body = body.replace(needle, marked, 1)
    known = {c.n for c in answer.citations}

    def ref(match: re.Match[str]) -> str:
        n = int(match.group(1))
        if n not in known:
            return match.group(0)
        return f'<sup><a class="lr-ref" href="#{anchor}-{n}">[{n}]</a></sup>'

    paragraphs = [p for p in _MARKER.sub(ref, body).split("\n\n") if p.strip()]
    return "".join(f"<p>{p.strip()}</p>".replace("\n", "<br>") for p in paragraphs)


def source_card(n: int, group: list[Citation], topic: str, anchor: str) -> str:
    """Card n: title, site, reading-list topic, the supporting quotes, a link to the quote."""
    first = group[0]
    title = first.title.strip() or first.url
    meta = [f'<span class="lr-site">{esc(site_of(first.url))}</span>']
    if topic:
        meta.append(f'<span class="lr-topic">{esc(topic)}</span>')
    quotes = "".join(f"<blockquote>{esc(' '.join(c.quote.split()))}</blockquote>" for c in group)
    opener = link(first.url, "Open at the quote ↗", "lr-open", text_fragment(first.quote))
    return (
        f'<div class="lr-card" id="{anchor}-{n}"><div class="lr-card-head">'
        f'<span class="lr-n">{n}</span>{link(first.url, title, "lr-title")}</div>'
        f'<div class="lr-meta">{" · ".join(meta)}</div>{quotes}{opener}</div>'
    )


def nearest_articles(passages: list[Hit], limit: int = _NEAREST) -> str:
    """The articles closest to an unanswered question, one line each, best first."""
    seen: dict[str, Hit] = {}
    for hit in passages:
        seen.setdefault(hit.chunk.url, hit)
    items = []
    for url, hit in list(seen.items())[:limit]:
        where = " · ".join(p for p in (site_of(url), hit.chunk.topic) if p)
        items.append(
            f"<li>{link(url, hit.chunk.title.strip() or url, 'lr-title')} "
            f'<span class="lr-meta">{esc(where)}</span></li>'
        )
    if not items:
        return ""
    return f'<div class="lr-nearest"><p>Nearest articles:</p><ul>{"".join(items)}</ul></div>'


def answer_html(answer: Answer, anchor: str = "lr-src") -> str:
    """The whole chat message: notices, the answer, then its source cards.

    `anchor` prefixes card ids; give each turn its own so `[n]` jumps to this turn's card.
    One block with no blank lines, so the chat's markdown renderer leaves it alone.
    """
    parts = []
    rewritten = getattr(answer, "rewritten_query", None)
    if rewritten:
        parts.append(f'<p class="lr-note">Searched for: {esc(rewritten)}</p>')
    notice = getattr(answer, "notice", "")
    if notice:
        parts.append(f'<p class="lr-note">{esc(notice)}</p>')
    parts.append(answer_body(answer, anchor))
    unsupported = getattr(answer, "unsupported", None) or []
    if unsupported:
        parts.append(
            f'<p class="lr-note"><span class="lr-unsupported">{len(unsupported)} '
            "sentence(s)</span> have no supporting passage; read them with care.</p>"
        )
    if answer.abstained:
        parts.append(nearest_articles(answer.passages))
    topics = _topics(answer.passages)
    cards = [
        source_card(n, group, topics.get(group[0].chunk_id, ""), anchor)
        for n, group in _grouped(answer.citations).items()
    ]
    if cards:
        parts.append(f'<div class="lr-sources">{"".join(cards)}</div>')
    return one_block(f'<div class="lr-answer">{"".join(parts)}</div>')


def streaming_html(text: str) -> str:
    """A partial answer while it streams: escaped text, markers not linked yet."""
    return one_block(f'<div class="lr-answer lr-streaming"><p>{esc(text)}</p></div>')


def one_block(html: str) -> str:
    """HTML for the chat with no line breaks left (they are <br> or spaces now).

    The chat renders Markdown, where a blank line ends an HTML block: text after one (a
    title or streamed model text with "\n\n[x](javascript:...)") would become Markdown.
    """
    return _BREAKS.sub(" ", html.replace("\n\n", "<br><br>")) if "\n" in html else html


def citations_json(answer: Answer) -> list[dict[str, object]]:
    """The citations as stored with feedback (the `ask --json` shape)."""
    return [{"n": c.n, "url": c.url, "title": c.title, "quote": c.quote} for c in answer.citations]
