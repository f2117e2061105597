"""Pure helpers of the fetcher (ingest/fetch.py): per-host pacing, Retry-After and backoff,
content-type acceptance, TLS error recognition, turning a reply into a FetchResult, and
which URL a link is fetched from and whose politeness and robots rules it counts against.
No network I/O here."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import logging
import random
import ssl
import time
from dataclasses import dataclass, field
from types import UnionType
from urllib.parse import urlsplit

import httpx

from ingest.body import looks_binary
from ingest.robots import origin
from ingest.settings import FetchSettings
from ingest.types import FetchResult
from ingest.urls import canonical_url, github_raw_url

log = logging.getLogger("ingest.fetch")
_BACKOFF = 0.5  # the first retry waits about this long; each further one twice as long


@dataclass
class HostState:
    """Politeness state of one host: in-flight slots and the earliest next request time."""

    slots: asyncio.Semaphore
    delay: float
    next_at: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def pace(self) -> None:
        # Reserve a start time under the lock, sleep outside it: requests start `delay` apart.
        async with self.lock:
            now = time.monotonic()
            start = max(now, self.next_at)
            self.next_at = start + self.delay
        if start > now:
            await asyncio.sleep(start - now)


def retry_after(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def _caused_by(exc: BaseException, kind: type[BaseException] | UnionType) -> bool:
    """Whether `exc` or one of the exceptions it was raised from is a `kind`."""
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            return False
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def is_tls_error(exc: BaseException) -> bool:
    return _caused_by(exc, ssl.SSLError | ssl.CertificateError)


def transport_failure(exc: httpx.HTTPError, url: str) -> tuple[str, str]:
    """(error kind, one-line message) of a request that broke after connecting."""
    if is_tls_error(exc):
        return "tls_error", f"TLS error on {url}: {exc}"
    if _caused_by(exc, ConnectionResetError):
        return "connection_reset", f"the server reset the connection while sending {url}"
    # httpcore's words for a body shorter than its Content-Length (or chunked framing).
    if isinstance(exc, httpx.RemoteProtocolError) and "complete message body" in str(exc):
        return "truncated_body", f"{url} was cut short: {exc}"
    return "network_error", f"network error on {url}: {exc or type(exc).__name__}"


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def accepted_type(content_type: str, accept: list[str]) -> bool:
    media = media_type(content_type)
    if not media:
        return True  # no declared type: extraction sniffs the body
    major = media.split("/", 1)[0]
    return any(a.lower() in (media, f"{major}/*", "*/*") for a in accept)


def backoff_delay(attempt: int, retry_after: float | None, cap: float) -> float:
    """Seconds to wait before retry number `attempt` + 1: the server's Retry-After, else
    exponential backoff with jitter; never more than `cap`."""
    if retry_after is not None:
        return min(cap, retry_after)
    base = _BACKOFF * 2**attempt
    # "Equal jitter": half fixed, half random, so clients retrying together spread out.
    return float(min(cap, base / 2 + random.uniform(0, base / 2)))


@dataclass
class Reply:
    """One HTTP exchange: the status, headers and (capped, decompressed) body."""

    url: str
    status: int
    headers: httpx.Headers
    body: bytes = b""


def reply_result(url: str, reply: Reply) -> tuple[FetchResult, float | None]:
    headers = reply.headers
    result = FetchResult(
        url=url,
        final_url=reply.url,
        status=reply.status,
        content_type=headers.get("content-type", ""),
        body=reply.body,
        etag=headers.get("etag"),
        last_modified=headers.get("last-modified"),
    )
    if reply.status == 304:
        return result, None
    if reply.status >= 300:
        result.error = f"HTTP {reply.status} from {reply.url}"
        result.error_kind = f"http_{reply.status}"
        return result, retry_after(headers.get("retry-after"))
    if not reply.body:
        result.error, result.error_kind = f"empty body from {reply.url}", "empty"
    elif looks_binary(reply.body):
        # Kept: extraction decides (and records) that it is not an article.
        log.info("%s is served as %s but looks binary", reply.url, result.content_type)
    return result, None


def fetch_target(url: str, settings: FetchSettings) -> str:
    """The URL a request for `url` goes to: a GitHub blob page's raw file, if configured."""
    clean = url.strip()
    return (github_raw_url(clean) if settings.github_raw else None) or clean


def host_key(url: str, settings: FetchSettings) -> str:
    """The origin whose politeness limits (per-host slots, delay) a fetch of `url` counts
    against; Ray ingest partitions its batches by it."""
    return origin(fetch_target(url, settings))


def robots_subject(url: str) -> str:
    """The URL whose robots rules govern fetching `url`.

    A raw.githubusercontent.com file is the markdown of the github.com blob page a reading
    list links to; raw's robots.txt turns away every crawler, so the page's rules decide.
    """
    return canonical_url(url) if urlsplit(url).hostname == "raw.githubusercontent.com" else url
