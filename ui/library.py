"""The Library tab: articles by reading list and section, the fetch ledger, index status.

Gathering reads the article store and the live index's chunk list; rendering is pure.
No Gradio import.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant import Assistant
from index.store import current_folder, current_version, read_chunks
from ingest import ArticleStore, canonical_url, parse_source_spec
from ui.cards import esc, link, site_of

OTHER_SOURCES = "Other sources (folders, archives, URL lists)"
_FAILURES = 200  # most recent failures listed under their kinds


@dataclass(frozen=True)
class Entry:
    """One article as the library lists it."""

    title: str
    url: str
    site: str
    date: str
    chunks: int


@dataclass
class Library:
    """reading list → section → articles, plus the ledger and the status dict."""

    lists: dict[str, dict[str, list[Entry]]] = field(default_factory=dict)
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # url, kind, reason
    ledger: dict[str, Any] = field(default_factory=dict)
    status: dict[str, Any] = field(default_factory=dict)

    @property
    def sections(self) -> list[str]:
        return sorted({s for sections in self.lists.values() for s in sections if s})

    @property
    def sites(self) -> list[str]:
        found = {e.site for s in self.lists.values() for es in s.values() for e in es}
        return sorted(site for site in found if site)


class ChunkCounts:
    """Chunks per article URL of the live index, re-read only when the version changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: str | None = None
        self._counts: Counter[str] = Counter()

    def get(self, data_dir: Path) -> Counter[str]:
        version = current_version(data_dir)
        with self._lock:
            if version != self._version:
                counts: Counter[str] = Counter()
                if version is not None:
                    counts.update(c.url for c in read_chunks(current_folder(data_dir)))
                self._version, self._counts = version, counts
            return self._counts


def _list_sections(store: ArticleStore, sources: list[str]) -> dict[str, tuple[str, str]]:
    """canonical URL → (reading list, section path) of the first list that links to it."""
    placed: dict[str, tuple[str, str]] = {}
    for spec in sources:
        key = str(parse_source_spec(spec))
        for item in store.links_of(key):
            section = " / ".join(part for part in item.section if part)
            placed.setdefault(canonical_url(item.url), (key.split(":", 1)[-1], section))
    return placed


def load_library(assistant: Assistant, counts: ChunkCounts) -> Library:
    """Everything the Library tab shows, read fresh (the store may have just been rebuilt)."""
    data_dir = assistant.data_dir
    library = Library(status=assistant.status(), ledger=assistant.ledger())
    if not (data_dir / "linkrag.sqlite").exists():
        return library
    library.failures = assistant.failures(_FAILURES)
    chunks = counts.get(data_dir)
    with ArticleStore.open(data_dir) as store:
        placed = _list_sections(store, assistant.config.sources)
        for article in store.iter_articles():
            keys = [article.url, *article.aliases]
            where = next((placed[k] for k in map(canonical_url, keys) if k in placed), None)
            reading_list, section = where or (OTHER_SOURCES, article.topic)
            site = site_of(article.url)
            entry = Entry(article.title, article.url, site, article.date or "", chunks[article.url])
            library.lists.setdefault(reading_list, {}).setdefault(section, []).append(entry)
    return library


def _entry_row(entry: Entry) -> str:
    return (
        f"<tr><td>{link(entry.url, entry.title.strip() or entry.url, 'lr-title')}</td>"
        f"<td>{esc(entry.site)}</td><td>{esc(entry.date)}</td>"
        f'<td class="lr-num">{entry.chunks}</td></tr>'
    )


def articles_html(library: Library) -> str:
    """Reading lists as collapsible blocks, one table per section."""
    if not library.lists:
        return '<p class="lr-empty">No articles yet. Run <code>linkrag build</code>.</p>'
    blocks = []
    for name, sections in sorted(library.lists.items(), key=lambda kv: kv[0] == OTHER_SOURCES):
        total = sum(len(entries) for entries in sections.values())
        inner = []
        for section, entries in sorted(sections.items()):
            rows = "".join(_entry_row(e) for e in sorted(entries, key=lambda e: e.title))
            inner.append(
                f"<h4>{esc(section or '(no section)')} <small>({len(entries)})</small></h4>"
                '<table class="lr-table"><thead><tr><th>title</th><th>site</th><th>date</th>'
                f"<th>chunks</th></tr></thead><tbody>{rows}</tbody></table>"
            )
        blocks.append(
            f'<details class="lr-list" open><summary>{esc(name)} <small>({total} articles)'
            f"</small></summary>{''.join(inner)}</details>"
        )
    return "".join(blocks)


def failures_html(library: Library) -> str:
    """The ledger: outcome counts, then failures grouped by kind with URL and reason."""
    outcomes = library.ledger.get("outcomes", {})
    head = " · ".join(f"{esc(k)} {int(v)}" for k, v in outcomes.items()) or "nothing fetched yet"
    by_kind: dict[str, list[tuple[str, str]]] = {}
    for url, kind, reason in library.failures:
        by_kind.setdefault(kind or "error", []).append((url, reason))
    for kind, info in library.ledger.get("failure_kinds", {}).items():
        if kind not in by_kind:  # pages that were not articles (login walls, listings, ...)
            by_kind[kind] = [(str(info.get("example", "")), str(info.get("reason", "")))]
    parts = [f'<p class="lr-meta">Fetch ledger: {head}</p>']
    for kind, items in sorted(by_kind.items(), key=lambda kv: -len(kv[1])):
        rows = "".join(
            f'<tr><td class="lr-url">{link(u, u)}</td><td>{esc(r)}</td></tr>' for u, r in items
        )
        parts.append(
            f'<details class="lr-kind"><summary><code>{esc(kind)}</code> ({len(items)})</summary>'
            f'<table class="lr-table"><tbody>{rows}</tbody></table></details>'
        )
    if not by_kind:
        parts.append('<p class="lr-empty">No failed fetches.</p>')
    return "".join(parts)


def status_html(status: dict[str, Any]) -> str:
    """Index version, embedder and counts, as a small definition list."""
    labels = {
        "index_version": "index version",
        "embedder": "embedder",
        "articles": "articles",
        "chunks": "chunks",
        "links": "links",
        "fetch_failures": "fetch failures",
    }
    rows = "".join(
        f"<dt>{label}</dt><dd>{esc(status.get(key) if status.get(key) is not None else '—')}</dd>"
        for key, label in labels.items()
    )
    return f'<dl class="lr-status">{rows}</dl>'
