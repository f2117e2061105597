"""SSRF guard of the fetcher (issue 7): internal addresses are refused however they are
reached, by name, by odd IPv4 spellings, by DNS rebinding, and only config allows them."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable
from typing import Any

import pytest
from conftest import LoopbackServer, Route

import ingest.fetch_net
from ingest import FetchSettings
from ingest.fetch_batch import fetch_urls

Start = Callable[[dict[str, Route]], LoopbackServer]
FAST: dict[str, Any] = {
    "timeout": 5.0,
    "retries": 0,
    "per_host_delay": 0.0,
    "robots": False,  # one connection per fetch, so one lookup per fetch
}


def test_internal_access_takes_explicit_config() -> None:
    settings = FetchSettings()
    assert not settings.allow_loopback and not settings.allow_private


@pytest.mark.parametrize("host", ["localhost", "127.1", "2130706433", "0x7f.0.0.1", "[::1]"])
def test_names_and_spellings_of_loopback_are_refused(loopback_server: Start, host: str) -> None:
    # The system resolver turns each of these into a loopback address.
    server = loopback_server({"/x": Route(b"internal")})
    url = server.url("/x").replace("127.0.0.1", host)
    (result,) = fetch_urls([url], FetchSettings(**FAST))
    assert result.error_kind == "blocked_address", result.error
    assert "allow_loopback" in (result.error or "") and server.hits == {}


def test_unspecified_address_is_refused_even_with_loopback_allowed(loopback_server: Start) -> None:
    # Connecting to 0.0.0.0 reaches this machine on Linux: it is not "loopback" by name.
    server = loopback_server({"/x": Route(b"internal")})
    url = server.url("/x").replace("127.0.0.1", "0.0.0.0")
    (result,) = fetch_urls([url], FetchSettings(**FAST, allow_loopback=True))
    assert result.error_kind == "blocked_address" and server.hits == {}


def test_dns_rebinding_cannot_swap_the_address(
    loopback_server: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first answer for the name is allowed, every later one is a LAN address: the
    fetch must connect to the address it checked, so the name is looked up exactly once."""
    server = loopback_server({"/x": Route(b"the page")})
    real = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "rebind.example":
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        address = "127.0.0.1" if len(lookups) == 1 else "10.0.0.1"
        return real(address, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    url = server.url("/x").replace("127.0.0.1", "rebind.example")
    (result,) = fetch_urls([url], FetchSettings(**FAST, allow_loopback=True))
    assert result.ok and result.body == b"the page", result.error
    assert lookups == ["rebind.example"]
    ((path, headers),) = server.requests
    assert path == "/x"
    assert headers["Host"] == url.split("/")[2]  # the name, not the pinned IP


def test_one_internal_answer_among_several_is_refused(
    loopback_server: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = loopback_server({"/x": Route(b"the page")})

    async def mixed(host: str, port: int) -> list[str]:
        return ["127.0.0.1", "169.254.169.254"]

    monkeypatch.setattr(ingest.fetch_net, "resolve", mixed)
    url = server.url("/x").replace("127.0.0.1", "mixed.example")
    (result,) = fetch_urls([url], FetchSettings(**FAST, allow_loopback=True))
    assert result.error_kind == "blocked_address" and "169.254.169.254" in (result.error or "")
    assert server.hits == {}


def test_redirects_to_internal_names_are_refused(
    loopback_server: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = loopback_server({"/go": Route(status=302)})
    server.routes["/go"].headers["Location"] = "http://metadata.example/latest/"

    async def metadata(host: str, port: int) -> list[str]:
        return ["169.254.169.254"] if host == "metadata.example" else [host]

    monkeypatch.setattr(ingest.fetch_net, "resolve", metadata)
    (result,) = fetch_urls([server.url("/go")], FetchSettings(**FAST, allow_loopback=True))
    assert result.error_kind == "blocked_address"
    assert result.final_url == "http://metadata.example/latest/"
    assert server.hits == {"/go": 1}


def test_tls_to_the_pinned_address_still_sends_the_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """Connecting to the checked IP must not cost HTTPS its SNI (and certificate check by
    name): a loopback TLS listener records the server name the client sends."""
    names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)  # no certificate: handshake then fails

    def record(sock: ssl.SSLObject | ssl.SSLSocket, name: str | None, ctx: ssl.SSLContext) -> None:
        names.append(name)

    context.sni_callback = record
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def serve() -> None:
            conn, _ = listener.accept()
            with conn, contextlib.suppress(ssl.SSLError, OSError):
                context.wrap_socket(conn, server_side=True)

        threading.Thread(target=serve, daemon=True).start()

        async def pinned(host: str, port: int) -> list[str]:
            return ["127.0.0.1"]

        monkeypatch.setattr(ingest.fetch_net, "resolve", pinned)
        url = f"https://pinned.example:{listener.getsockname()[1]}/x"
        (result,) = fetch_urls([url], FetchSettings(**FAST, allow_loopback=True))
    assert result.error_kind == "tls_error"  # no certificate here, as expected
    assert names == ["pinned.example"]
