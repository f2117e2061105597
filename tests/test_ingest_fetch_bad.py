"""Bad input of issue 3 that belongs to fetching, each against a real loopback server:
every one becomes a one-line reason with a kind, and the batch carries on."""

from __future__ import annotations

import gzip
import socket
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from conftest import LoopbackServer, Route

import ingest.fetch_net
from ingest import FetchSettings
from ingest.body import looks_binary
from ingest.fetch import decode_body
from ingest.fetch_batch import fetch_urls

Start = Callable[[dict[str, Route]], LoopbackServer]
FAST: dict[str, Any] = {
    "allow_loopback": True,
    "timeout": 5.0,
    "retries": 1,
    "per_host_delay": 0.0,
    "max_backoff": 0.05,
}
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"
CHINESE = "这是一篇关于检索增强生成的中文文章，讲述向量检索、重排序和引用的原理与实践。" * 4


def test_malformed_and_non_http_urls_are_bad_url(loopback_server: Start) -> None:
    server = loopback_server({"/ok": Route(b"fine")})
    bad = [
        "javascript:alert(1)",
        "http://[::1",
        "http://",
        "not a url",
        "file:///etc/passwd",
        "mailto:me@example.org",
        "http://exa mple.com/\n",
        "http://example.com:99999/",
    ]
    *results, ok = fetch_urls([*bad, server.url("/ok")], FetchSettings(**FAST))
    for url, result in zip(bad, results, strict=True):
        assert result.error_kind == "bad_url", url
        assert result.error and "\n" not in result.error and result.retries == 0
    assert ok.ok  # the batch carried on


def test_dns_failure_is_fast_and_named(monkeypatch: pytest.MonkeyPatch) -> None:
    started = time.monotonic()
    (reserved,) = fetch_urls(["http://nothing.invalid/page"], FetchSettings(**FAST))
    assert reserved.error_kind == "dns_error" and time.monotonic() - started < 1.0

    async def fail(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(ingest.fetch_net, "resolve", fail)
    (failed,) = fetch_urls(["https://no-such-host.example/x"], FetchSettings(**FAST))
    assert failed.error_kind == "dns_error" and "no-such-host.example" in (failed.error or "")
    assert failed.retries == 0


def test_tls_error_on_a_plain_http_port(loopback_server: Start) -> None:
    server = loopback_server({"/": Route(b"plain")})
    url = server.url("/").replace("http://", "https://")
    (result,) = fetch_urls([url], FetchSettings(**FAST))
    assert result.error_kind == "tls_error" and result.retries == 0


def test_internal_addresses_are_refused_on_every_hop(
    loopback_server: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    targets = {
        "/meta": "http://169.254.169.254/latest/meta-data/",
        "/meta6": "http://[fd00:ec2::254]/latest/",
        "/lan": "http://10.1.2.3/admin",
        "/mapped": "http://[::ffff:192.168.0.1]/",
        "/named": "http://intranet.example/",
    }
    server = loopback_server(
        {path: Route(status=302, headers={"Location": to}) for path, to in targets.items()}
    )

    async def resolve(host: str, port: int) -> list[str]:
        assert host == "intranet.example"
        return ["192.168.1.10"]

    monkeypatch.setattr(ingest.fetch_net, "resolve", resolve)
    results = fetch_urls([server.url(p) for p in targets], FetchSettings(**FAST))
    for (path, to), result in zip(targets.items(), results, strict=True):
        assert result.error_kind == "blocked_address", path
        assert result.final_url == to and "allow_private" in (result.error or "")
    assert all(server.hits[path] == 1 for path in targets)


def test_names_resolving_to_loopback_are_refused_by_default(
    loopback_server: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = loopback_server({"/x": Route(b"internal")})

    async def rebind(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    monkeypatch.setattr(ingest.fetch_net, "resolve", rebind)
    url = server.url("/x").replace("127.0.0.1", "evil.example")
    (result,) = fetch_urls([url], FetchSettings(**{**FAST, "allow_loopback": False}))
    assert result.error_kind == "blocked_address" and server.hits == {}


def _streamed(size: int) -> Callable[[BaseHTTPRequestHandler], None]:
    """A body of `size` bytes with no Content-Length (ends when the connection closes)."""

    def send(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.end_headers()
        try:
            for _ in range(size // 65536):
                h.wfile.write(b"a" * 65536)
        except OSError:
            pass  # the client stopped reading at the cap

    return send


def test_a_20_mb_page_is_refused_while_streaming(loopback_server: Start) -> None:
    twenty_mb = 20 * 1024 * 1024
    server = loopback_server(
        {
            "/declared": Route(b"a" * twenty_mb),
            "/streamed": Route(handler=_streamed(twenty_mb)),
            "/fine": Route(b"<p>small</p>"),
        }
    )
    started = time.monotonic()
    urls = [server.url(p) for p in ("/declared", "/streamed", "/fine")]
    declared, streamed, fine = fetch_urls(urls, FetchSettings(**FAST))
    assert declared.error_kind == "too_large" and "10000000" in (declared.error or "")
    assert streamed.error_kind == "too_large" and streamed.body == b""
    assert fine.ok and time.monotonic() - started < 5.0


def test_gzip_bomb_is_refused_and_gzip_pages_are_inflated(loopback_server: Start) -> None:
    bomb = gzip.compress(b"\x00" * (40 * 1024 * 1024), compresslevel=9)  # ~40 KB on the wire
    page = "<p>压缩的页面</p>".encode() * 100
    server = loopback_server(
        {
            "/bomb": Route(bomb, headers={"Content-Encoding": "gzip"}),
            "/page": Route(gzip.compress(page), headers={"Content-Encoding": "gzip"}),
            "/br": Route(b"\x1b\x00", headers={"Content-Encoding": "br"}),
            "/cut": Route(b"\x1f\x8b\x08\x00", headers={"Content-Encoding": "gzip"}),
            "/broken": Route(GZIP_HEADER + b"\xff" * 8, headers={"Content-Encoding": "gzip"}),
        }
    )
    assert len(bomb) < 1_000_000
    urls = [server.url(p) for p in ("/bomb", "/page", "/br", "/cut", "/broken")]
    bombed, inflated, brotli, cut, broken = fetch_urls(urls, FetchSettings(**FAST))
    assert bombed.error_kind == "too_large" and bombed.body == b""
    assert inflated.ok and inflated.body == page
    assert brotli.error_kind == "bad_encoding" and "br" in (brotli.error or "")
    assert cut.error_kind == "truncated_body" and "truncated" in (cut.error or "")
    assert broken.error_kind == "bad_encoding" and "corrupt" in (broken.error or "")
    (accept,) = {h["Accept-Encoding"] for _, h in server.requests}
    assert accept == "gzip, deflate"  # only what the bounded decoder can inflate


def test_a_page_declaring_the_wrong_charset_decodes_right(loopback_server: Start) -> None:
    html = f"<html><head><title>t</title></head><body><p>{CHINESE}</p></body></html>"
    server = loopback_server(
        {
            "/gbk-as-utf8": Route(html.encode("gbk"), "text/html; charset=utf-8"),
            "/gbk-as-latin1": Route(html.encode("gbk"), "text/html; charset=iso-8859-1"),
            "/utf8-as-gbk": Route(html.encode(), "text/html; charset=gbk"),
        }
    )
    results = fetch_urls([server.url(p) for p in server.routes], FetchSettings(**FAST))
    for result in results:
        assert result.ok, result.final_url
        assert CHINESE in decode_body(result.body, result.content_type), result.final_url


def test_binary_served_as_html_is_returned_for_extraction(loopback_server: Start) -> None:
    blob = bytes(range(256)) * 64
    server = loopback_server({"/blob.html": Route(blob, "text/html; charset=utf-8")})
    (result,) = fetch_urls([server.url("/blob.html")], FetchSettings(**FAST))
    assert result.ok and result.body == blob and looks_binary(result.body)


def test_empty_body_is_named(loopback_server: Start) -> None:
    server = loopback_server({"/empty": Route(b""), "/ok": Route(b"x")})
    empty, ok = fetch_urls([server.url("/empty"), server.url("/ok")], FetchSettings(**FAST))
    assert empty.error_kind == "empty" and empty.status == 200 and empty.retries == 0
    assert ok.ok
