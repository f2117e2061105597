"""Value types produced by the ingest stage."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class SourceKind(StrEnum):
    """What a source spec points at; decides how it becomes links or documents."""

    LIST = "list"  # a reading list (markdown or HTML), by path or URL
    URLS = "urls"  # a plain file of URLs, one per line
    WARC = "warc"  # every response record in a WARC is a candidate article
    DIR = "dir"  # a local folder of .md / .html / .txt / .pdf files


@dataclass(frozen=True)
class SourceSpec:
    """One configured source, parsed from a `kind:location` string."""

    kind: SourceKind
    location: str

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.location}"


@dataclass(frozen=True)
class Link:
    """A link found in a source, with the provenance the UI and filters use."""

    url: str
    anchor: str = ""
    source: str = ""  # the SourceSpec string it came from
    section: tuple[str, ...] = ()  # heading path above the link in the reading list


@dataclass
class FetchResult:
    """The outcome of fetching one URL, live or from a WARC replay."""

    url: str
    final_url: str = ""
    status: int | None = None
    content_type: str = ""
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None  # one-line human reason, None on success
    error_kind: str | None = None  # short machine kind: http_404, replay_miss, timeout, ...
    retries: int = 0  # attempts beyond the first
    elapsed: float = 0.0  # seconds spent, retries and waits included

    @property
    def not_modified(self) -> bool:
        """A conditional GET found the stored copy current (HTTP 304)."""
        return self.status == 304 and self.error is None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300


@dataclass
class Article:
    """One unique article: cleaned text plus every URL it was reached by."""

    url: str  # canonical, human-readable URL (GitHub blob page rather than raw file)
    title: str
    text: str
    text_hash: str = ""
    author: str | None = None
    date: str | None = None
    language: str | None = None
    topic: str = ""  # reading-list heading path, " / " joined: the first of `topics`
    # Every heading path of every list that links to it (cross-posts included), first seen first.
    topics: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    id: int | None = None
