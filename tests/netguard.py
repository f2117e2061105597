"""A guard that lets sockets connect to loopback only: tests and the chaos benchmark use it,
so a fetcher bug that follows a redirect to 10.x or 169.254.169.254 fails instead of
sending traffic off this machine."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_loopback(address: object) -> bool:
    if isinstance(address, tuple) and address:
        host = str(address[0])
        if host in ("localhost", ""):
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False  # an unresolved hostname: resolution would hit DNS
    return True  # AF_UNIX paths and other local families


def _refuse(sock: socket.socket, address: object) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
        raise AssertionError(f"tried to open a non-loopback socket to {address!r}")


def _guarded_connect(self: socket.socket, address: object) -> None:
    _refuse(self, address)
    _real_connect(self, address)  # type: ignore[arg-type]


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    _refuse(self, address)
    return _real_connect_ex(self, address)  # type: ignore[arg-type]


@contextmanager
def loopback_only() -> Iterator[None]:
    """Within the block, any socket connect to a non-loopback address raises."""
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    try:
        yield
    finally:
        socket.socket.connect = _real_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]
