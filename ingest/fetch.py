"""Live HTTP fetching with httpx: with its socket layer ingest/fetch_net.py, the only code of
linkrag that touches the network.

Every per-URL problem becomes a FetchResult with `error` and `error_kind`; nothing here
raises for a bad URL, a refusing server or a slow host, so one link never sinks a batch.
error_kind values: bad_url, blocked_address, dns_error, tls_error, connect_error, timeout,
connection_reset, truncated_body (shorter than its Content-Length, or a cut gzip stream),
network_error, robots, http_<status>, too_large, bad_encoding, too_many_redirects,
redirect_loop, unsupported_type, empty.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import Mapping
from urllib.parse import urljoin, urlsplit

import httpx

from ingest.body import BadEncoding, BodyTooLarge, BoundedBody, TruncatedStream, decode_body
from ingest.fetch_net import Refused, guarded_transport
from ingest.fetch_support import (
    HostState,
    Reply,
    accepted_type,
    backoff_delay,
    fetch_target,
    host_key,
    is_tls_error,
    media_type,
    reply_result,
    robots_subject,
    transport_failure,
)
from ingest.robots import ALLOW_ALL, MAX_ROBOTS_BYTES, RobotsRules, origin, robots_url
from ingest.settings import FetchSettings
from ingest.types import FetchResult
from ingest.urls import address_problem, url_problem

__all__ = ["Fetcher", "Validators", "decode_body", "fetch_target", "host_key"]

log = logging.getLogger(__name__)

Validators = Mapping[str, tuple[str | None, str | None]]  # url -> (ETag, Last-Modified)

# Faults of the connection, not of the page: another attempt may well succeed.
_RETRY_KINDS = frozenset(
    {"timeout", "connect_error", "network_error", "connection_reset", "truncated_body"}
)
_GARBLED_START = ("illegal status line", "illegal request line")  # h11's words
_DEADLINE_FACTOR = 4  # one request may take this many timeouts (slow-drip servers)


class _Failure(Exception):
    """A per-URL failure: its kind, one-line message, and the URL it happened at."""

    def __init__(self, kind: str, message: str, final: str = "") -> None:
        super().__init__(message)
        self.kind, self.message, self.final = kind, message, final


class Fetcher:
    """Fetches URLs concurrently within the limits of FetchSettings; use as `async with`.

    A `transport` given here replaces the guarded one of ingest/fetch_net.py, and with it
    the connect-time address check of hostnames (IP literals are still refused).
    """

    def __init__(
        self, settings: FetchSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._all = asyncio.Semaphore(settings.concurrency)
        self._hosts: dict[str, HostState] = {}
        self._robots: dict[str, RobotsRules] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}

    async def __aenter__(self) -> Fetcher:
        timeout = self.settings.timeout
        # Our semaphores already bound the requests; a pool sized to match keeps
        # httpcore's per-request scan over idle connections short.
        limits = httpx.Limits(
            max_connections=self.settings.concurrency,
            max_keepalive_connections=self.settings.concurrency,
        )
        transport = self._transport or guarded_transport(
            limits,
            allow_loopback=self.settings.allow_loopback,
            allow_private=self.settings.allow_private,
            dns_timeout=timeout,
        )
        self._client = httpx.AsyncClient(
            follow_redirects=False,  # redirects are followed by hand so every hop is guarded
            timeout=httpx.Timeout(timeout, connect=timeout),
            headers={
                "User-Agent": self.settings.user_agent,
                "Accept": ", ".join([*self.settings.accept_types, "*/*;q=0.1"]),
                # Only what BoundedBody can inflate within the size cap.
                "Accept-Encoding": "gzip, deflate",
            },
            transport=transport,
            trust_env=False,  # a proxy from the environment would bypass the address guard
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """Fetch one URL with retries; GitHub blob pages come from their raw file.

        With `etag` / `last_modified` the request is conditional: an unchanged page gives
        a FetchResult with status 304 and no body, which is not an error.
        """
        started = time.monotonic()
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        result = await self._with_retries(url, headers)
        if result.status == 304:
            result.etag = result.etag or etag
            result.last_modified = result.last_modified or last_modified
        result.elapsed = time.monotonic() - started
        return result

    async def _with_retries(self, url: str, headers: dict[str, str]) -> FetchResult:
        # `url` is kept as given in the result: callers map results back by it.
        clean = url.strip()
        problem = url_problem(clean)
        if problem is not None:
            return FetchResult(url=url, final_url=url, error=problem, error_kind="bad_url")
        target = fetch_target(clean, self.settings)
        for attempt in range(self.settings.retries + 1):
            result, wait = await self._attempt(url, target, headers)
            result.retries = attempt
            status = result.status or 0
            retryable = status == 429 or status >= 500 or result.error_kind in _RETRY_KINDS
            if not retryable or attempt == self.settings.retries:
                return result
            delay = backoff_delay(attempt, wait, self.settings.max_backoff)
            log.debug("retrying %s in %.2fs after %s", target, delay, result.error_kind)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable: the retry loop always returns")

    async def _attempt(
        self, url: str, target: str, headers: dict[str, str]
    ) -> tuple[FetchResult, float | None]:
        try:
            reply = await self._follow(target, headers)
        except _Failure as exc:
            return _failure(url, exc.final or target, exc.message, exc.kind), None
        except (TimeoutError, httpx.TimeoutException):
            return _failure(url, target, f"timed out fetching {target}", "timeout"), None
        except httpx.ConnectError as exc:
            if is_tls_error(exc):
                return _failure(url, target, f"TLS error on {target}: {exc}", "tls_error"), None
            return _failure(
                url, target, f"cannot connect to {target}: {exc}", "connect_error"
            ), None
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            return _failure(url, target, f"bad URL {target}: {exc}", "bad_url"), None
        except httpx.HTTPError as exc:
            kind, message = transport_failure(exc, target)
            return _failure(url, target, message, kind), None
        return reply_result(url, reply)

    async def _follow(self, target: str, headers: dict[str, str]) -> Reply:
        """GET `target`, following redirects by hand: every hop is checked and guarded."""
        current, seen = target, set[str]()
        for _ in range(self.settings.max_redirects + 1):
            if current in seen:
                raise _Failure("redirect_loop", f"redirect loop back to {current}", current)
            seen.add(current)
            self._check(current)
            if self.settings.robots:
                await self._obey_robots(robots_subject(current))
            reply = await self._send(current, headers, self.settings.max_bytes, check_type=True)
            location = reply.headers.get("location")
            if reply.status not in (301, 302, 303, 307, 308) or not location:
                return reply
            current = urljoin(current, location.strip())
        limit = self.settings.max_redirects
        raise _Failure("too_many_redirects", f"more than {limit} redirects from {target}", current)

    def _check(self, url: str) -> None:
        """Refuse bad URLs and internal IP literals before any request; hostnames are
        checked where they are connected to (ingest/fetch_net.py), after their one lookup."""
        problem = url_problem(url)
        if problem is not None:
            raise _Failure("bad_url", problem, url)
        host = urlsplit(url).hostname or ""
        try:
            address = str(ipaddress.ip_address(host))
        except ValueError:
            return
        problem = address_problem(
            address,
            allow_loopback=self.settings.allow_loopback,
            allow_private=self.settings.allow_private,
        )
        if problem is not None:
            raise _Failure("blocked_address", f"refused {url}: {host} is {problem}", url)

    def host(self, url: str) -> HostState:
        """The politeness state of `url`'s origin (pacing, slots), made on first use."""
        key = origin(url)
        state = self._hosts.get(key)
        if state is None:
            state = HostState(
                asyncio.Semaphore(self.settings.per_host), self.settings.per_host_delay
            )
            self._hosts[key] = state
        return state

    async def _send(
        self, url: str, headers: dict[str, str], limit: int, *, check_type: bool
    ) -> Reply:
        """One request within the global and per-host limits; the body is read only for a
        2xx response of an accepted type, and never beyond `limit` bytes."""
        assert self._client is not None, "use Fetcher as `async with Fetcher(...)`"
        host = self.host(url)
        async with host.slots, self._all:
            await host.pace()
            # The deadline starts once the request has its slot: time queued behind other
            # URLs (thousands, paced per host) is not this URL's slowness.
            try:
                async with asyncio.timeout(self.settings.timeout * _DEADLINE_FACTOR):
                    return await self._get(url, headers, limit, check_type=check_type)
            except Refused as exc:  # the connection's address check (SSRF) or its DNS lookup
                raise _Failure(exc.kind, f"refused {url}: {exc.message}", url) from exc

    async def _get(
        self, url: str, headers: dict[str, str], limit: int, *, check_type: bool
    ) -> Reply:
        assert self._client is not None, "use Fetcher as `async with Fetcher(...)`"
        for again in (False, True):
            try:
                async with self._client.stream("GET", url, headers=headers) as response:
                    return await self._reply(response, url, limit, check_type=check_type)
            except httpx.RemoteProtocolError as exc:
                # A body longer than its Content-Length leaves its surplus in the kept-alive
                # connection, and httpcore reads it as the next reply's status line: the
                # next URL of that host fails for another's fault. The broken connection is
                # closed by now, so once the request goes again on a fresh one.
                if again or not any(sign in str(exc) for sign in _GARBLED_START):
                    raise
        raise AssertionError("unreachable: the second try returns or raises")

    async def _reply(
        self, response: httpx.Response, url: str, limit: int, *, check_type: bool
    ) -> Reply:
        reply = Reply(url, response.status_code, response.headers)
        if not 200 <= reply.status < 300:
            return reply
        content_type = reply.headers.get("content-type", "")
        if check_type and not accepted_type(content_type, self.settings.accept_types):
            message = f"{url} is {media_type(content_type)}, not an accepted type"
            raise _Failure("unsupported_type", message, url)
        reply.body = await _read(response, url, limit)
        return reply

    async def _obey_robots(self, url: str) -> None:
        key = origin(url)
        rules = self._robots.get(key)
        if rules is None:
            async with self._robots_locks.setdefault(key, asyncio.Lock()):
                rules = self._robots.get(key) or await self._load_robots(url)
                self._robots[key] = rules
                delay = min(rules.crawl_delay(self.settings.user_agent), self.settings.max_backoff)
                host = self.host(url)
                host.delay = max(host.delay, delay)
        if not rules.allows(url, self.settings.user_agent):
            raise _Failure("robots", f"robots.txt of {key} disallows {url}", url)

    async def _load_robots(self, url: str) -> RobotsRules:
        """The robots.txt rules for `url`'s origin; anything but a 2xx text means allowed."""
        current = robots_url(url)
        try:
            for _ in range(5):  # RFC 9309: follow at least five redirects
                self._check(current)
                reply = await self._send(current, {}, MAX_ROBOTS_BYTES, check_type=False)
                location = reply.headers.get("location")
                if reply.status not in (301, 302, 303, 307, 308) or not location:
                    break
                current = urljoin(current, location.strip())
        except (_Failure, httpx.HTTPError, TimeoutError) as exc:
            log.debug("robots.txt for %s unavailable (%s): allowing", url, exc)
            return ALLOW_ALL
        if not 200 <= reply.status < 300:
            return ALLOW_ALL
        return RobotsRules.parse(decode_body(reply.body, reply.headers.get("content-type", "")))


async def _read(response: httpx.Response, url: str, limit: int) -> bytes:
    declared = response.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > limit:
        raise _Failure("too_large", f"{url} is {declared} bytes, over the {limit} cap", url)
    try:
        body = BoundedBody(response.headers.get("content-encoding", ""), limit)
        async for chunk in response.aiter_raw():
            body.feed(chunk)
        return body.finish()
    except BodyTooLarge as exc:
        raise _Failure("too_large", f"{url}: {exc}", url) from exc
    except TruncatedStream as exc:
        raise _Failure("truncated_body", f"{url} was cut short: {exc}", url) from exc
    except BadEncoding as exc:
        raise _Failure("bad_encoding", f"{url}: {exc}", url) from exc


def _failure(url: str, final: str, error: str, kind: str) -> FetchResult:
    return FetchResult(url=url, final_url=final, error=error, error_kind=kind)
