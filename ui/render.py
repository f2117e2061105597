"""Answers and hits as Markdown, shared by the web app and the CLI (no Gradio import)."""

from __future__ import annotations

from assistant import Answer, Citation
from assistant.citations import text_fragment
from index import Hit

_SNIPPET_CHARS = 300


def _title(title: str, url: str) -> str:
    label = title.strip() or url
    return label.replace("[", "\\[").replace("]", "\\]")


def answer_markdown(answer: Answer) -> str:
    """The answer text, then numbered sources: title link (to the quote), topic, quotes."""
    lines = [answer.text.strip()]
    if answer.citations:
        lines += ["", "**Sources**", ""]
    topics = {hit.chunk.chunk_id: hit.chunk.topic for hit in answer.passages}
    by_number: dict[int, list[Citation]] = {}
    for citation in answer.citations:
        by_number.setdefault(citation.n, []).append(citation)
    for n, group in sorted(by_number.items()):
        first = group[0]
        link = first.fragment_url or first.url + text_fragment(first.quote)
        topic = topics.get(first.chunk_id, "")
        where = f" · {topic}" if topic else ""  # the reading-list section it came from
        lines.append(f"{n}. [{_title(first.title, first.url)}]({link}){where}")
        quotes = [f"   > {' '.join(c.quote.split())}" for c in group]
        lines.append("\n   >\n".join(quotes))  # an empty quote line keeps quotes apart
    return "\n".join(lines)


def snippet(text: str, limit: int = _SNIPPET_CHARS) -> str:
    """The first `limit` characters of a chunk on one line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def hits_markdown(hits: list[Hit]) -> str:
    """Ranked passages: title link, heading path, score and a snippet."""
    if not hits:
        return "No matching passages."
    blocks: list[str] = []
    for hit in hits:
        chunk = hit.chunk
        where = f" · {chunk.heading}" if chunk.heading else ""
        head = f"**{hit.rank}. [{_title(chunk.title, chunk.url)}]({chunk.url})**{where}"
        blocks.append(f"{head} · score {hit.score:.4f}\n\n> {snippet(chunk.text)}")
    return "\n\n".join(blocks)
