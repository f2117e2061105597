"""WARC archives with warcio: read them as sources, replay fetches from them, record into them."""

from __future__ import annotations

import io
import logging
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from ingest.types import FetchResult
from ingest.urls import canonical_url, github_raw_url, url_problem

log = logging.getLogger(__name__)

_MAX_HOPS = 5
_REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 404: "Not Found"}
# What a damaged archive raises part-way through; the records before it stay usable.
_DAMAGE = (ArchiveLoadFailed, zlib.error, EOFError, ValueError, OSError, AttributeError)


def _result(record: object, url: str) -> FetchResult:
    """A FetchResult from a warcio response record; HTTP errors keep their status."""
    rec_headers = record.rec_headers  # type: ignore[attr-defined]
    http = record.http_headers  # type: ignore[attr-defined]
    final = rec_headers.get_header("WARC-Target-URI") or url
    status = int(http.get_statuscode()) if http is not None else 200
    result = FetchResult(
        url=url,
        final_url=final,
        status=status,
        content_type=(http.get_header("Content-Type") if http is not None else None) or "",
        body=record.content_stream().read(),  # type: ignore[attr-defined]
        etag=http.get_header("ETag") if http is not None else None,
        last_modified=http.get_header("Last-Modified") if http is not None else None,
    )
    if getattr(record.raw_stream, "limit", 0):  # type: ignore[attr-defined]
        # The archive ends inside this record: its body is cut short, so not an article.
        result.error = f"record of {final} is truncated in the archive"
        result.error_kind = "truncated"
    elif status >= 400:
        result.error = f"HTTP {status} from {final} (replayed)"
        result.error_kind = f"http_{status}"
    return result


def iter_warc(path: Path) -> Iterator[FetchResult]:
    """Every response record of a WARC, in archive order."""
    with open(path, "rb") as stream:
        for record in ArchiveIterator(stream):
            if record.rec_type == "response":
                url = record.rec_headers.get_header("WARC-Target-URI") or ""
                yield _result(record, url)


@dataclass
class WarcIndex:
    """Where each response record of a WARC starts: by exact and by canonical URL."""

    exact: dict[str, int] = field(default_factory=dict)
    canonical: dict[str, int] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)  # URL -> recorded media type


class WarcReplay:
    """Answers fetches from a WARC: by exact URL, canonical URL, or a blob page's raw file.

    The archive is indexed once (URL → record offset); bodies are read on demand, so
    large archives cost little memory.
    """

    def __init__(
        self, path: Path, *, github_raw: bool = True, index: WarcIndex | None = None
    ) -> None:
        self.path = Path(path)
        self.github_raw = github_raw
        # `index`, another WarcReplay's of the same file, spares the scan (Ray tasks).
        self.index = index or WarcIndex()
        self._exact, self._canonical = self.index.exact, self.index.canonical
        self._types = self.index.types
        self._lock = threading.Lock()
        self.truncated: str | None = None  # one line when the archive is damaged or cut short
        self._stream: IO[bytes] = open(self.path, "rb")  # noqa: SIM115 (closed by close())
        try:
            if index is None:
                self._build_index()
        except Exception:
            self._stream.close()
            raise

    def _build_index(self) -> None:
        try:
            self._index_records()
        except _DAMAGE as exc:
            self.truncated = (
                f"{self.path.name} is damaged after {len(self._exact)} readable responses "
                f"({type(exc).__name__}: {exc}); the rest is skipped"
            )
        if self._exact and self.truncated is None:
            self.truncated = self._check_end()
        if self.truncated:
            log.warning("%s", self.truncated)

    def _check_end(self) -> str | None:
        """Why the archive's tail is unreadable (a record cut short), or None."""
        last = max(self._exact, key=self._exact.__getitem__)
        if self.read(last).error_kind == "truncated":
            return (
                f"{self.path.name} is truncated: its last record ({last}) is cut short; "
                f"{len(self._exact) - 1} records are complete"
            )
        with self._lock:
            self._stream.seek(self._exact[last])
            records = ArchiveIterator(self._stream)
            for record in records:
                record.content_stream().read()
                break
            end = self._exact[last] + records.get_record_length()
        size = self.path.stat().st_size
        if end < size:
            return (
                f"{self.path.name} is truncated: {size - end} bytes after its last complete "
                f"record ({len(self._exact)} readable) are not a whole record"
            )
        return None

    def _index_records(self) -> None:
        records = ArchiveIterator(self._stream)
        for record in records:
            if not record.rec_headers.get_header("WARC-Type"):
                raise ValueError("a record header is cut short")
            if record.rec_type != "response":
                continue
            url = record.rec_headers.get_header("WARC-Target-URI") or ""
            offset = records.get_record_offset()
            self._exact.setdefault(url, offset)
            http = record.http_headers
            ctype = (http.get_header("Content-Type") if http is not None else None) or ""
            self._types.setdefault(url, ctype.split(";", 1)[0].strip().lower())
            self._canonical.setdefault(canonical_url(url), offset)
        log.debug("indexed %d responses in %s", len(self._exact), self.path)

    def urls(self) -> list[str]:
        """The URL of every response record, in archive order."""
        return sorted(self._exact, key=self._exact.__getitem__)

    def media_type(self, url: str) -> str:
        """The recorded media type of `url` ("text/html", ...), "" when unknown."""
        return self._types.get(url, "")

    def read(self, url: str) -> FetchResult:
        """The record stored under exactly `url` (which must be in `urls()`)."""
        return self.read_at(self._exact[url], url)[0]

    def read_at(self, offset: int, requested: str) -> tuple[FetchResult, str | None]:
        """The record at `offset`, answering `requested`, and for a redirect where it points."""
        with self._lock:
            self._stream.seek(offset)
            try:
                record = next(iter(ArchiveIterator(self._stream)))
                result = _result(record, requested)
            except (*_DAMAGE, StopIteration) as exc:
                error = f"record of {requested} is unreadable in {self.path.name}: {exc}"
                return FetchResult(url=requested, error=error, error_kind="truncated"), None
            location = None
            if result.status is not None and 300 <= result.status < 400:
                location = record.http_headers.get_header("Location")
            return result, location

    def _lookup(self, url: str) -> int | None:
        raw = github_raw_url(url)
        candidates = [raw, url] if self.github_raw else [url, raw]
        for candidate in candidates:
            if candidate is None:
                continue
            offset = self._exact.get(candidate, self._canonical.get(canonical_url(candidate)))
            if offset is not None:
                return offset
        return None

    def fetch(self, url: str) -> FetchResult:
        """Replay `url`, following recorded redirects; a miss is a `replay_miss` failure."""
        problem = url_problem(url)
        if problem is not None:  # the same verdict a live fetch would give
            return FetchResult(url=url, error=problem, error_kind="bad_url")
        current = url
        for _ in range(_MAX_HOPS + 1):
            offset = self._lookup(current)
            if offset is None:
                return FetchResult(
                    url=url,
                    final_url=current,
                    error=f"not in archive {self.path.name}: {current}",
                    error_kind="replay_miss",
                )
            result, location = self.read_at(offset, url)
            if location is None:
                return result
            current = urljoin(current, location)
        return FetchResult(
            url=url, error=f"too many recorded redirects for {url}", error_kind="too_many_redirects"
        )

    def __len__(self) -> int:
        return len(self._exact)

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> WarcReplay:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class WarcRecorder:
    """Appends every live response to a WARC so the same build can be replayed offline."""

    def __init__(self, path: Path, user_agent: str = "") -> None:
        self.path = Path(path)
        self.user_agent = user_agent
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._stream: IO[bytes] = open(self.path, "ab")  # noqa: SIM115 (closed by close())
        self._writer = WARCWriter(self._stream, gzip=self.path.name.endswith(".gz"))
        self.written = 0

    def write(self, result: FetchResult) -> None:
        """Record one response (errors with a status too); failures without one are skipped."""
        if result.status is None:
            return
        final = result.final_url or result.url
        self._write(final, result.status, result, result.body)
        moved = canonical_url(final) not in (canonical_url(result.url), result.url)
        if moved and github_raw_url(result.url) != final:
            # The redirect itself was not kept; a synthetic 302 lets replay find the target.
            redirect = FetchResult(url=result.url, status=302, content_type="text/plain")
            self._write(result.url, 302, redirect, final.encode("utf-8"), location=final)

    def _write(
        self, url: str, status: int, result: FetchResult, body: bytes, location: str = ""
    ) -> None:
        headers = [("Content-Type", result.content_type or "application/octet-stream")]
        headers += [("Content-Length", str(len(body)))]
        if result.etag:
            headers.append(("ETag", result.etag))
        if result.last_modified:
            headers.append(("Last-Modified", result.last_modified))
        if location:
            headers.append(("Location", location))
        reason = _REASONS.get(status, "Status")
        http = StatusAndHeaders(f"{status} {reason}", headers, protocol="HTTP/1.1")
        record = self._writer.create_warc_record(
            url, "response", payload=io.BytesIO(body), http_headers=http
        )
        self._writer.write_record(self._request_for(url, record))
        self._writer.write_record(record)
        self.written += 1

    def _request_for(self, url: str, response: Any) -> Any:
        """The GET that produced `response`, linked to it, as crawlers archive them."""
        parts = urlsplit(url)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        headers = [("Host", parts.netloc)]
        if self.user_agent:
            headers.append(("User-Agent", self.user_agent))
        http = StatusAndHeaders(f"GET {target} HTTP/1.1", headers, is_http_request=True)
        request = self._writer.create_warc_record(url, "request", http_headers=http)
        record_id = response.rec_headers.get_header("WARC-Record-ID")
        request.rec_headers.add_header("WARC-Concurrent-To", record_id)
        return request

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> WarcRecorder:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
