"""A loopback chaos HTTP server for fault-injection runs of the fetcher (issue 7).

Every URL names its behaviour: `/<fault>/<n>/<fails>` serves article number `n` after
failing `fails` times with `fault` (PERMANENT: always fails). Faults:

- http_5xx: 500/502/503/504;  http_429: 429 with a long Retry-After (the client caps it);
- reset: a TCP RST half-way through the body;  stall: a few body bytes, then silence
  (even n) or one byte at a time (odd n, slowloris);  truncated_gzip: a gzip body cut short;
- length_long / length_short: Content-Length larger / smaller than the body sent;
- private_redirect: a redirect to a private, link-local, metadata or unspecified address;
- redirect_loop: A -> B -> A (even n) or an endless chain (odd n);
- huge_body: a 1 GB body made on the fly, declared (even n) or undeclared (odd n).

The server speaks HTTP/1.1 with keep-alive, so a fault can also hurt the next request on
the same connection. Nothing large is held in memory. Stalls end when the server closes.
"""

from __future__ import annotations

import gzip
import random
import socket
import struct
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PERMANENT = 99
GB = 1 << 30
TRANSIENT_FAULTS = ("http_5xx", "http_429", "reset", "stall", "truncated_gzip", "length_long")
FAULTS = (
    *TRANSIENT_FAULTS,
    "length_short",
    "private_redirect",
    "redirect_loop",
    "huge_body",
)
PRIVATE_TARGETS = (
    "http://10.0.0.1/admin",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00::1]/",
    "http://[::ffff:192.168.0.1]/",
    "http://0.0.0.0:{port}/ok/0/0",  # reaches this machine on Linux
)
_WORDS = [
    "".join(random.Random(i).choices("abcdefghijklmnoprstuvwy", k=3 + i % 7)) for i in range(3000)
]


def article(n: int) -> bytes:
    """A distinct article page (no two are near duplicates) of about 3 KB."""
    rng = random.Random(n)
    paras = [" ".join(rng.choices(_WORDS, k=60)).capitalize() + "." for _ in range(6)]
    body = "".join(f"<p>{p}</p>" for p in paras)
    title = f"Chaos article {n}"
    return (
        f"<!doctype html><html><head><title>{title}</title></head><body>"
        f"<article><h1>{title}</h1>{body}</article></body></html>"
    ).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ChaosServer

    def do_GET(self) -> None:
        parts = self.path.strip("/").split("/")
        if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
            self._send(404, b"not found", "text/plain")
            return
        fault, n, fails = parts[0], int(parts[1]), int(parts[2])
        if fault == "redirect_loop":
            self._loop(n, fails)
            return
        if self.server.hit(self.path) > fails or fault == "ok":
            self._send(200, article(n))
            return
        getattr(self, "_" + fault)(n)

    def _send(self, status: int, body: bytes, ctype: str = "text/html; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _head(self, length: int | None, **headers: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        if length is not None:
            self.send_header("Content-Length", str(length))
        for key, value in headers.items():
            self.send_header(key.replace("_", "-"), value)
        self.end_headers()

    def _http_5xx(self, n: int) -> None:
        self._send((500, 502, 503, 504)[n % 4], b"server error", "text/plain")

    def _http_429(self, n: int) -> None:
        self.send_response(429)
        self.send_header("Retry-After", "3600")  # an hour: only the client's cap keeps it short
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _reset(self, n: int) -> None:
        page = article(n)
        self._head(len(page))
        self.wfile.write(page[: len(page) // 2])
        self.wfile.flush()
        self.server.closing.wait(0.05)  # the client is now waiting in recv() for the rest
        # SO_LINGER 0: closing sends RST instead of FIN, as a crashing peer or middlebox does;
        # the fd is closed at once (socketserver would shut down with a FIN first).
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        socket.close(self.connection.detach())
        self.close_connection = True

    def _stall(self, n: int) -> None:
        page = article(n)
        self._head(len(page))
        self._drip(page[:64], 0.0)
        if n % 2:
            self._drip(page[64:], self.server.drip_interval)
        else:
            self.server.closing.wait(self.server.stall_seconds)
        self.close_connection = True

    def _drip(self, data: bytes, interval: float) -> None:
        for i in range(0, len(data), 1 if interval else len(data) or 1):
            if self.server.closing.wait(interval):
                return
            try:
                self.wfile.write(data[i : i + 1] if interval else data)
                self.wfile.flush()
            except OSError:
                return  # the client gave up, as it should

    def _truncated_gzip(self, n: int) -> None:
        packed = gzip.compress(article(n))
        cut = packed[: len(packed) * 6 // 10]
        self._head(len(cut), Content_Encoding="gzip")
        self.wfile.write(cut)

    def _length_long(self, n: int) -> None:
        page = article(n)
        self._head(len(page) + 1000)
        self.wfile.write(page)
        self.close_connection = True

    def _length_short(self, n: int) -> None:
        page = article(n)
        self._head(len(page) * 3 // 4)
        self.wfile.write(page)  # the tail is left in the connection: garbage before the next reply

    def _private_redirect(self, n: int) -> None:
        target = PRIVATE_TARGETS[n % len(PRIVATE_TARGETS)].format(port=self.server.port)
        self._redirect(target)

    def _loop(self, n: int, hop: int) -> None:
        self.server.hit(self.path)
        self._redirect(f"/redirect_loop/{n}/{(hop + 1) % 2 if n % 2 == 0 else hop + 1}")

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _huge_body(self, n: int) -> None:
        declared = n % 2 == 0
        self._head(GB if declared else None, Connection="close")
        self.close_connection = True
        block = b"x" * 65536
        try:
            for _ in range(GB // len(block)):  # never more than one block in memory
                if self.server.closing.is_set():
                    return
                self.wfile.write(block)
        except OSError:
            pass  # the client refused the rest, as it should

    def log_message(self, format: str, *args: object) -> None:
        pass


class ChaosServer(ThreadingHTTPServer):
    """The chaos server on 127.0.0.1 (a random port), serving from a daemon thread."""

    daemon_threads = True
    request_queue_size = 256  # the default 5 drops SYNs under load: client timeouts, not faults

    def __init__(self, *, stall_seconds: float = 30.0, drip_interval: float = 0.2) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.port = int(self.server_address[1])
        self.base = f"http://127.0.0.1:{self.port}"
        self.stall_seconds, self.drip_interval = stall_seconds, drip_interval
        self.closing = threading.Event()
        self.hits: Counter[str] = Counter()
        self._lock = threading.Lock()
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    def hit(self, path: str) -> int:
        """Count a request for `path`; the count including this one."""
        with self._lock:
            self.hits[path] += 1
            return self.hits[path]

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients resetting and abandoning connections is the point here

    def close(self) -> None:
        self.closing.set()  # ends stalls and drips
        self.shutdown()
        self.server_close()

    def __enter__(self) -> ChaosServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
