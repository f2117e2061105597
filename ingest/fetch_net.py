"""The fetcher's socket layer (part of ingest/fetch.py's network I/O): every TCP connection
goes to an address that was resolved once and checked against the SSRF rules.

Checking a hostname and then letting the HTTP client resolve it again leaves a gap: a DNS
server that answers a public address to the check and 127.0.0.1 to the connect (DNS
rebinding) gets the request inside. Here the check and the connect share one lookup:
the pool's network backend resolves, refuses if any address is internal, and connects to
the checked IP itself; TLS still verifies and sends SNI for the hostname (httpcore takes
it from the URL, not from the socket), and the Host header is the URL's.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable

import httpcore
import httpx

from ingest.urls import address_problem

__all__ = ["Refused", "guarded_transport", "resolve"]


class Refused(Exception):
    """A connection not made: `kind` is blocked_address or dns_error."""

    where = "fetch ledger: `blocked_address` or `dns_error`"
    cause = (
        "A link's host resolves to a private, loopback, link-local or metadata address (or "
        "does not resolve), so fetching it could reach inside your network."
    )
    fix = (
        "Nothing stops; if the host really is yours, set `fetch.allow_private` (or "
        "`fetch.allow_loopback`) in config.yaml; for `dns_error` check the link."
    )

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind, self.message = kind, message


async def resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to (the only DNS lookup of fetching; tests patch it)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's backend, but connections go only to checked addresses."""

    def __init__(self, *, allow_loopback: bool, allow_private: bool, dns_timeout: float) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allow = {"allow_loopback": allow_loopback, "allow_private": allow_private}
        self._dns_timeout = dns_timeout

    async def addresses(self, host: str, port: int) -> list[str]:
        """The checked addresses of `host`; Refused if any is internal or none resolve."""
        try:
            found = [str(ipaddress.ip_address(host))]
        except ValueError:
            found = await self._lookup(host, port)
        for address in found:
            problem = address_problem(address, **self._allow)
            if problem is not None:
                # One internal answer is enough to refuse: a round-robin mix is an attack.
                raise Refused("blocked_address", f"{host} resolves to {address}, {problem}")
        return found

    async def _lookup(self, host: str, port: int) -> list[str]:
        # RFC 6761: ".invalid" never resolves, so no resolver is asked.
        if host == "invalid" or host.endswith(".invalid"):
            raise Refused("dns_error", f"cannot resolve host {host} (reserved .invalid)")
        try:
            async with asyncio.timeout(self._dns_timeout):
                found = await resolve(host, port)
        except (OSError, UnicodeError, TimeoutError) as exc:
            raise Refused("dns_error", f"cannot resolve host {host}: {exc}") from exc
        if not found:
            raise Refused("dns_error", f"host {host} has no address")
        return list(dict.fromkeys(found))

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        failure: httpcore.ConnectError | None = None
        for address in await self.addresses(host, port):
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:  # try the next address, as a resolver would
                failure = exc
        assert failure is not None  # addresses() never returns an empty list
        raise failure

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, backend: _GuardedBackend, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        # Same pool as httpx builds, with the guarded backend; no proxy can be configured
        # (a proxy would resolve and connect where the guard cannot see). Should httpx
        # rename its pool, fail here rather than fetch through an unguarded one.
        if not isinstance(getattr(self, "_pool", None), httpcore.AsyncConnectionPool):
            raise RuntimeError("httpx.AsyncHTTPTransport has no _pool: update fetch_net.py")
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )


def guarded_transport(
    limits: httpx.Limits, *, allow_loopback: bool, allow_private: bool, dns_timeout: float
) -> httpx.AsyncBaseTransport:
    """An httpx transport whose connections pass the SSRF address rules (see module doc)."""
    backend = _GuardedBackend(
        allow_loopback=allow_loopback, allow_private=allow_private, dns_timeout=dns_timeout
    )
    return _GuardedTransport(backend, limits)
