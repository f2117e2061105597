"""Politeness and resilience of the fetcher against real loopback servers: concurrency
limits, per-host delay, robots.txt, retries with backoff, timeouts, conditional GET."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from conftest import LoopbackServer, Route

from ingest import FetchSettings
from ingest.fetch_batch import fetch_urls

Start = Callable[[dict[str, Route]], LoopbackServer]
FAST: dict[str, Any] = {
    "allow_loopback": True,
    "timeout": 5.0,
    "retries": 2,
    "per_host_delay": 0.0,
    "max_backoff": 0.05,
}


def _reply(h: BaseHTTPRequestHandler, status: int, body: bytes, **headers: str) -> None:
    h.send_response(status)
    h.send_header("Content-Type", "text/plain")
    h.send_header("Content-Length", str(len(body)))
    for key, value in headers.items():
        h.send_header(key.replace("_", "-"), value)
    h.end_headers()
    h.wfile.write(body)


class InFlight:
    """A route handler that records how many requests it serves at the same time."""

    def __init__(self, hold: float = 0.15) -> None:
        self.hold, self.now, self.peak = hold, 0, 0
        self.starts: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, h: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
            self.starts.append(time.monotonic())
        time.sleep(self.hold)
        with self._lock:
            self.now -= 1
        _reply(h, 200, b"page")


def test_per_host_concurrency_is_capped(loopback_server: Start) -> None:
    track = InFlight()
    server = loopback_server({f"/p{i}": Route(handler=track) for i in range(6)})
    settings = FetchSettings(**{**FAST, "concurrency": 8, "per_host": 2})
    results = fetch_urls([server.url(f"/p{i}") for i in range(6)], settings)
    assert all(r.ok for r in results)
    assert track.peak == 2


def test_global_concurrency_spans_hosts(loopback_server: Start) -> None:
    track = InFlight()  # shared by two servers: two origins, one global cap
    servers = [loopback_server({f"/p{i}": Route(handler=track) for i in range(4)}) for _ in "ab"]
    settings = FetchSettings(**{**FAST, "concurrency": 3, "per_host": 4})
    results = fetch_urls([s.url(f"/p{i}") for s in servers for i in range(4)], settings)
    assert all(r.ok for r in results)
    assert track.peak == 3


def test_per_host_delay_spaces_requests(loopback_server: Start) -> None:
    track = InFlight(hold=0.0)
    server = loopback_server({f"/p{i}": Route(handler=track) for i in range(4)})
    settings = FetchSettings(**{**FAST, "per_host": 4, "per_host_delay": 0.2, "robots": False})
    fetch_urls([server.url(f"/p{i}") for i in range(4)], settings)
    gaps = [b - a for a, b in zip(track.starts, track.starts[1:], strict=False)]
    assert len(gaps) == 3 and min(gaps) >= 0.18


def test_robots_txt_is_obeyed_and_fetched_once(loopback_server: Start) -> None:
    robots = b"User-agent: *\nDisallow: /private\n\nUser-agent: otherbot\nDisallow: /\n"
    server = loopback_server(
        {
            "/robots.txt": Route(robots, "text/plain"),
            "/private/a": Route(b"secret"),
            **{f"/pub{i}": Route(b"public") for i in range(5)},
        }
    )
    urls = [server.url("/private/a")] + [server.url(f"/pub{i}") for i in range(5)]
    private, *public = fetch_urls(urls, FetchSettings(**FAST))
    assert private.error_kind == "robots" and "/private/a" in (private.error or "")
    assert private.retries == 0 and "/private/a" not in server.hits
    assert all(r.ok for r in public)
    assert server.hits["/robots.txt"] == 1  # cached per host for the whole run
    # Obeying robots is a setting.
    (again,) = fetch_urls([server.url("/private/a")], FetchSettings(**FAST, robots=False))
    assert again.ok and again.body == b"secret"


def test_missing_or_failing_robots_txt_means_allowed(loopback_server: Start) -> None:
    missing = loopback_server({"/a": Route(b"a")})
    broken = loopback_server({"/a": Route(b"a"), "/robots.txt": Route(b"oops", status=500)})
    results = fetch_urls([missing.url("/a"), broken.url("/a")], FetchSettings(**FAST))
    assert all(r.ok for r in results)
    assert missing.hits["/robots.txt"] == 1


def test_flaky_503_then_200_is_retried_with_backoff(loopback_server: Start) -> None:
    calls = {"n": 0}

    def flaky(h: BaseHTTPRequestHandler) -> None:
        calls["n"] += 1
        _reply(h, 503 if calls["n"] == 1 else 200, b"busy" if calls["n"] == 1 else b"ok")

    server = loopback_server({"/f": Route(handler=flaky)})
    (result,) = fetch_urls([server.url("/f")], FetchSettings(**FAST))
    assert result.ok and result.body == b"ok"
    assert result.retries == 1 and result.elapsed > 0


def test_retry_after_is_honoured_and_capped(loopback_server: Start) -> None:
    server = loopback_server(
        {
            "/soon": Route(b"later", "text/plain", 429, {"Retry-After": "1"}),
            "/never": Route(b"later", "text/plain", 503, {"Retry-After": "3600"}),
        }
    )
    settings = FetchSettings(**{**FAST, "retries": 1, "max_backoff": 5.0})
    (soon,) = fetch_urls([server.url("/soon")], settings)
    assert soon.error_kind == "http_429" and soon.retries == 1
    assert 1.0 <= soon.elapsed < 3.0  # waited the second the server asked for
    capped = FetchSettings(**{**FAST, "retries": 2, "max_backoff": 0.1})
    (never,) = fetch_urls([server.url("/never")], capped)
    assert never.error_kind == "http_503" and never.retries == 2 and never.elapsed < 2.0
    assert server.hits["/never"] == 3


def test_connection_errors_are_retried() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    (result,) = fetch_urls([f"http://127.0.0.1:{port}/x"], FetchSettings(**FAST))
    assert result.error_kind == "connect_error" and result.retries == 2


def test_not_found_and_gone_are_not_retried(loopback_server: Start) -> None:
    server = loopback_server({"/gone": Route(b"gone", status=410)})
    missing, gone = fetch_urls([server.url("/none"), server.url("/gone")], FetchSettings(**FAST))
    assert missing.error_kind == "http_404" and gone.error_kind == "http_410"
    assert gone.retries == 0 and server.hits["/gone"] == 1
    assert gone.error == f"HTTP 410 from {server.url('/gone')}"


def test_slow_route_times_out(loopback_server: Start) -> None:
    server = loopback_server({"/slow": Route(b"late", delay=1.5)})
    settings = FetchSettings(**{**FAST, "timeout": 0.3, "retries": 0})
    started = time.monotonic()
    (result,) = fetch_urls([server.url("/slow")], settings)
    assert result.error_kind == "timeout" and time.monotonic() - started < 1.2


def test_slow_drip_hits_the_attempt_deadline(loopback_server: Start) -> None:
    def drip(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/plain")
        h.end_headers()
        try:
            for _ in range(40):  # a byte every 0.1 s: never idle long enough for a read timeout
                h.wfile.write(b"x")
                h.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass  # the client gave up, as it should

    server = loopback_server({"/drip": Route(handler=drip)})
    settings = FetchSettings(**{**FAST, "timeout": 0.3, "retries": 0})
    (result,) = fetch_urls([server.url("/drip")], settings)
    assert result.error_kind == "timeout" and result.elapsed < 2.5


def test_conditional_get_gives_304(loopback_server: Start) -> None:
    def page(h: BaseHTTPRequestHandler) -> None:
        if h.headers.get("If-None-Match") == '"v1"':
            h.send_response(304)
            h.send_header("ETag", '"v1"')
            h.end_headers()
        elif h.headers.get("If-Modified-Since") == "Wed, 01 Jan 2025 00:00:00 GMT":
            h.send_response(304)
            h.end_headers()
        else:
            _reply(h, 200, b"fresh", ETag='"v2"')

    server = loopback_server({"/a": Route(handler=page), "/b": Route(handler=page)})
    urls = [server.url("/a"), server.url("/b")]
    validators = {
        urls[0]: ('"v1"', None),
        urls[1]: (None, "Wed, 01 Jan 2025 00:00:00 GMT"),
    }
    same_a, same_b = fetch_urls(urls, FetchSettings(**FAST), validators=validators)
    assert same_a.not_modified and same_a.error is None and same_a.etag == '"v1"'
    assert same_b.not_modified and same_b.last_modified == "Wed, 01 Jan 2025 00:00:00 GMT"
    (changed,) = fetch_urls(
        [server.url("/a")], FetchSettings(**FAST), validators={server.url("/a"): ('"v0"', None)}
    )
    assert changed.ok and changed.body == b"fresh" and changed.etag == '"v2"'
    (plain,) = fetch_urls([server.url("/b")], FetchSettings(**FAST))
    assert plain.ok and plain.status == 200
    sent = [headers for path, headers in server.requests if path != "/robots.txt"]
    assert [h.get("If-None-Match") for h in sent[2:]] == ['"v0"', None]
    assert "If-Modified-Since" not in sent[-1]


def test_user_agent_and_accept_types(loopback_server: Start) -> None:
    server = loopback_server(
        {
            "/page": Route(b"<p>hi</p>"),
            "/zip": Route(b"PK\x03\x04" + b"\x00" * 100, "application/zip"),
            "/md": Route(b"# hi", "text/markdown"),
        }
    )
    settings = FetchSettings(**FAST, user_agent="testbot/9 (+mailto:me@example.org)")
    page, zipped, md = fetch_urls([server.url(p) for p in ("/page", "/zip", "/md")], settings)
    assert page.ok and md.ok
    assert zipped.error_kind == "unsupported_type" and "application/zip" in (zipped.error or "")
    agents = {headers["User-Agent"] for _, headers in server.requests}
    assert agents == {"testbot/9 (+mailto:me@example.org)"}
    (narrow,) = fetch_urls([server.url("/md")], FetchSettings(**FAST, accept_types=["text/html"]))
    assert narrow.error_kind == "unsupported_type"
