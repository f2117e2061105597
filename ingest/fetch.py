"""Live HTTP fetching with httpx: the only module of linkrag that touches the network.

Every per-URL problem becomes a FetchResult with `error` and `error_kind`; nothing here
raises for a bad URL, a refusing server or a slow host, so one link never sinks a batch.
"""

from __future__ import annotations

import asyncio
import codecs
import concurrent.futures
import datetime as dt
import email.utils
import ipaddress
import logging
import re
import socket
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar
from urllib.parse import urljoin, urlsplit

import charset_normalizer
import httpx

from ingest.settings import FetchSettings
from ingest.types import FetchResult
from ingest.urls import github_raw_url

log = logging.getLogger(__name__)

T = TypeVar("T")
ResultFn = Callable[[FetchResult], None]

_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_RETRY_KINDS = frozenset({"timeout", "connect_error", "network_error"})
_MAX_WAIT = 30.0  # a Retry-After longer than this is not worth blocking a whole batch
_BACKOFF = 0.5
_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE)
# Pages declaring the narrow Chinese charsets routinely use characters only the superset has.
_CHARSET_ALIASES = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030"}


class _TooLarge(Exception):
    pass


def _declared_charset(content_type: str, body: bytes) -> str | None:
    match = re.search(r"charset\s*=\s*[\"']?([\w.:-]+)", content_type, re.IGNORECASE)
    if match is None and "html" in content_type.lower():
        meta = _CHARSET_RE.search(body[:4096])
        return meta.group(1).decode("ascii", "ignore").lower() if meta else None
    return match.group(1).lower() if match else None


def decode_body(body: bytes, content_type: str = "") -> str:
    """Text of a response body: BOM, then declared charset, then UTF-8, then sniffing."""
    if body.startswith(codecs.BOM_UTF8):
        return body[len(codecs.BOM_UTF8) :].decode("utf-8", "replace")
    charset = _declared_charset(content_type, body)
    if charset:
        try:
            return body.decode(_CHARSET_ALIASES.get(charset, charset))
        except (LookupError, UnicodeDecodeError):
            log.debug("declared charset %s does not decode the body; sniffing", charset)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        best = charset_normalizer.from_bytes(body).best()
        return str(best) if best is not None else body.decode("utf-8", "replace")


def _retry_after(value: str | None) -> float | None:
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


def _address_problem(address: str, settings: FetchSettings) -> str | None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return None if settings.allow_loopback else "loopback (set fetch.allow_loopback to allow)"
    internal = ip.is_private or ip.is_link_local or ip.is_reserved or ip.is_multicast
    if (internal or ip.is_unspecified) and not settings.allow_private:
        return "a private or reserved address (set fetch.allow_private to allow)"
    return None


async def _guard(url: str, settings: FetchSettings) -> str | None:
    """Why `url` must not be fetched (SSRF guard), or None when it may be."""
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        return f"no host in URL: {url}"
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
        except OSError as exc:
            return f"cannot resolve host {host}: {exc}"
        addresses = [str(info[4][0]) for info in infos]
    for address in addresses:
        problem = _address_problem(address, settings)
        if problem is not None:
            return f"refused {url}: {host} resolves to {address}, {problem}"
    return None


class Fetcher:
    """Fetches URLs concurrently within the limits of FetchSettings; use as `async with`."""

    def __init__(
        self, settings: FetchSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._all = asyncio.Semaphore(settings.concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = {}

    async def __aenter__(self) -> Fetcher:
        self._client = httpx.AsyncClient(
            follow_redirects=False,  # redirects are followed by hand so every hop is guarded
            timeout=httpx.Timeout(self.settings.timeout),
            headers={"User-Agent": self.settings.user_agent},
            transport=self._transport,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def fetch(self, url: str) -> FetchResult:
        """Fetch one URL with retries; GitHub blob pages come from their raw file."""
        target = (github_raw_url(url) if self.settings.github_raw else None) or url
        host = urlsplit(target).hostname or ""
        per_host = self._hosts.setdefault(host, asyncio.Semaphore(self.settings.per_host))
        async with self._all, per_host:
            for attempt in range(self.settings.retries + 1):
                result, wait = await self._fetch_once(url, target)
                retryable = result.status in _RETRY_STATUSES or result.error_kind in _RETRY_KINDS
                if not retryable or attempt == self.settings.retries:
                    return result
                delay = min(_MAX_WAIT, wait if wait is not None else _BACKOFF * 2**attempt)
                log.debug("retrying %s in %.1fs after %s", target, delay, result.error_kind)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable: the retry loop always returns")

    async def _fetch_once(self, url: str, target: str) -> tuple[FetchResult, float | None]:
        try:
            return await self._follow(url, target)
        except httpx.TimeoutException:
            error, kind = f"timed out fetching {target}", "timeout"
        except httpx.ConnectError as exc:
            error, kind = f"cannot connect to {target}: {exc}", "connect_error"
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            error, kind = f"bad URL {target}: {exc}", "bad_url"
        except _TooLarge:
            error, kind = f"{target} is larger than {self.settings.max_bytes} bytes", "too_large"
        except httpx.HTTPError as exc:
            error, kind = f"network error on {target}: {exc}", "network_error"
        return _failure(url, target, error, kind), None

    async def _follow(self, url: str, target: str) -> tuple[FetchResult, float | None]:
        assert self._client is not None, "use Fetcher as `async with Fetcher(...)`"
        current = target
        for _ in range(self.settings.max_redirects + 1):
            if urlsplit(current).scheme not in ("http", "https"):
                return _failure(url, current, f"not an http(s) URL: {current}", "bad_url"), None
            problem = await _guard(current, self.settings)
            if problem is not None:
                return _failure(url, current, problem, "blocked_address"), None
            async with self._client.stream("GET", current) as response:
                if response.is_redirect and "location" in response.headers:
                    current = urljoin(current, response.headers["location"])
                    continue
                return await self._finish(url, current, response)
        limit = self.settings.max_redirects
        return _failure(url, current, f"more than {limit} redirects", "too_many_redirects"), None

    async def _finish(
        self, url: str, final: str, response: httpx.Response
    ) -> tuple[FetchResult, float | None]:
        headers = response.headers
        result = FetchResult(
            url=url,
            final_url=final,
            status=response.status_code,
            content_type=headers.get("content-type", ""),
            etag=headers.get("etag"),
            last_modified=headers.get("last-modified"),
        )
        if response.status_code >= 400:
            result.error = f"HTTP {response.status_code} from {final}"
            result.error_kind = f"http_{response.status_code}"
            return result, _retry_after(headers.get("retry-after"))
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.settings.max_bytes:
            raise _TooLarge
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.settings.max_bytes:
                raise _TooLarge
            chunks.append(chunk)
        result.body = b"".join(chunks)
        return result, None


def _failure(url: str, final: str, error: str, kind: str) -> FetchResult:
    return FetchResult(url=url, final_url=final, error=error, error_kind=kind)


async def fetch_all(
    urls: Sequence[str],
    settings: FetchSettings,
    on_result: ResultFn | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[FetchResult]:
    """Fetch every URL (bounded concurrency); `on_result` sees each result as it lands."""
    async with Fetcher(settings, transport=transport) as fetcher:

        async def one(url: str) -> FetchResult:
            result = await fetcher.fetch(url)
            if on_result is not None:
                on_result(result)
            return result

        return list(await asyncio.gather(*(one(url) for url in urls)))


def run_sync(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine from sync code, even when this thread already runs an event loop."""

    async def runner() -> T:
        return await make()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(runner())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, runner()).result()


def fetch_urls(
    urls: Sequence[str], settings: FetchSettings, on_result: ResultFn | None = None
) -> list[FetchResult]:
    """Blocking wrapper of `fetch_all` for sync callers (pipeline, CLI)."""
    return run_sync(lambda: fetch_all(urls, settings, on_result))
