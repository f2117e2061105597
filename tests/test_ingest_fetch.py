"""Live fetching against a real loopback HTTP server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conftest import LoopbackServer, Route

from ingest import FetchSettings
from ingest.fetch import decode_body
from ingest.fetch_batch import fetch_urls

Start = Callable[[dict[str, Route]], LoopbackServer]
FAST = {"allow_loopback": True, "timeout": 5.0, "retries": 2, "per_host_delay": 0.0}


class FlakyRoutes(dict[str, Route]):
    """Routes where `path` answers 429 (Retry-After: 0) the first `times` requests."""

    def __init__(self, routes: dict[str, Route], path: str, times: int = 1) -> None:
        super().__init__(routes)
        self.path, self.left = path, times

    def get(self, key: str, default: Any = None) -> Any:
        if key == self.path and self.left > 0:
            self.left -= 1
            return Route(b"slow down", "text/plain", 429, {"Retry-After": "0"})
        return super().get(key, default)


def test_fetch_ok_404_redirect_and_retry(loopback_server: Start) -> None:
    routes = FlakyRoutes(
        {
            "/a.html": Route("<p>héllo</p>".encode(), headers={"ETag": '"v1"'}),
            "/old": Route(b"", status=301, headers={"Location": "/a.html"}),
            "/flaky": Route(b"finally", "text/plain"),
            "/gbk": Route("中文".encode("gbk"), "text/plain; charset=gbk"),
        },
        "/flaky",
    )
    server = loopback_server(routes)
    seen: list[str] = []
    urls = [server.url(p) for p in ("/a.html", "/missing", "/old", "/flaky", "/gbk")]
    results = fetch_urls(urls, FetchSettings(**FAST), lambda r: seen.append(r.url))
    ok, missing, moved, flaky, gbk = results
    assert sorted(seen) == sorted(urls)
    assert (
        ok.ok
        and ok.status == 200
        and ok.etag == '"v1"'
        and decode_body(ok.body, ok.content_type) == "<p>héllo</p>"
    )
    assert not missing.ok and missing.status == 404 and missing.error_kind == "http_404"
    assert moved.ok and moved.url == server.url("/old") and moved.final_url == server.url("/a.html")
    assert flaky.ok and flaky.body == b"finally" and server.hits["/flaky"] == 2
    assert decode_body(gbk.body, gbk.content_type) == "中文"


def test_retries_give_up_with_the_status(loopback_server: Start) -> None:
    server = loopback_server(FlakyRoutes({"/x": Route(b"ok")}, "/x", times=5))
    (result,) = fetch_urls([server.url("/x")], FetchSettings(**{**FAST, "retries": 1}))
    assert result.error_kind == "http_429" and server.hits["/x"] == 2


def test_loopback_is_refused_unless_allowed(loopback_server: Start) -> None:
    server = loopback_server({"/secret": Route(b"internal")})
    urls = [server.url("/secret"), server.url("/secret").replace("127.0.0.1", "localhost")]
    for result in fetch_urls(urls, FetchSettings()):
        assert result.error_kind == "blocked_address" and "allow_loopback" in (result.error or "")
    assert server.hits == {}


def test_size_and_redirect_caps(loopback_server: Start) -> None:
    chain = {f"/r{i}": Route(status=302, headers={"Location": f"/r{i + 1}"}) for i in range(9)}
    server = loopback_server(
        {
            "/big": Route(b"x" * 5000, "text/plain"),
            "/loop": Route(status=302, headers={"Location": "/loop2"}),
            "/loop2": Route(status=301, headers={"Location": "/loop"}),
            **chain,
        }
    )
    settings = FetchSettings(**{**FAST, "max_bytes": 1024, "max_redirects": 3})
    big, loop, far = fetch_urls([server.url(p) for p in ("/big", "/loop", "/r0")], settings)
    assert big.error_kind == "too_large"
    # A loop is named as such at once instead of burning the whole redirect budget.
    assert loop.error_kind == "redirect_loop" and server.hits["/loop"] == 1
    assert loop.retries == 0 and "/loop" in (loop.error or "")
    assert far.error_kind == "too_many_redirects" and server.hits["/r3"] == 1
    assert "/r4" not in server.hits


def test_unusable_urls_fail_per_url(loopback_server: Start) -> None:
    server = loopback_server({})
    results = fetch_urls(["ftp://e.x/file", server.url("/none")], FetchSettings(**FAST))
    assert results[0].error_kind == "bad_url" and results[0].error
    assert results[1].error_kind == "http_404"
