"""Live-fetch benchmark: 500 pages from a loopback server that takes 50 ms per request.

Concurrency 16 (global and per host), per-host delay 0 (politeness off for this run),
robots.txt on (one 404 per run). Prints pages/s; the target is at least 150 pages/s
(the ideal is 16 / 0.05 s = 320 pages/s).

    python benchmarks/fetch_live.py [--pages 500] [--latency 0.05] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import time

from ingest.fetch_batch import fetch_urls
from ingest.settings import FetchSettings

PAGE = (
    "<html><head><title>Page</title></head><body>" + "<p>text</p>" * 400 + "</body></html>"
).encode()


async def _serve(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, latency: float
) -> None:
    """A minimal HTTP/1.1 keep-alive server: every request waits `latency`, then gets a page."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1]
            await asyncio.sleep(latency)
            status, body = (
                (b"404 Not Found", b"none") if path == b"/robots.txt" else (b"200 OK", PAGE)
            )
            writer.write(
                b"HTTP/1.1 " + status + b"\r\nContent-Type: text/html; charset=utf-8\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def _run_server(latency: float, port_out: multiprocessing.SimpleQueue[int]) -> None:
    async def main() -> None:
        server = await asyncio.start_server(lambda r, w: _serve(r, w, latency), "127.0.0.1", 0)
        port_out.put(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


def _start_server(latency: float) -> tuple[multiprocessing.Process, int]:
    """Run the server in its own process, so it does not share the fetcher's GIL."""
    port_out: multiprocessing.SimpleQueue[int] = multiprocessing.SimpleQueue()
    process = multiprocessing.Process(target=_run_server, args=(latency, port_out), daemon=True)
    process.start()
    return process, port_out.get()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    server, port = _start_server(args.latency)
    urls = [f"http://127.0.0.1:{port}/page/{i}.html" for i in range(args.pages)]
    settings = FetchSettings(
        concurrency=args.concurrency,
        per_host=min(args.concurrency, 64),
        per_host_delay=0.0,
        allow_loopback=True,
        retries=0,
    )
    started = time.perf_counter()
    results = fetch_urls(urls, settings)
    wall = time.perf_counter() - started
    server.terminate()
    ok = sum(r.ok for r in results)
    print(f"pages: {len(urls)}  ok: {ok}  latency: {args.latency * 1000:.0f} ms")
    print(
        f"concurrency: {args.concurrency}  wall: {wall:.2f} s  rate: {len(urls) / wall:.0f} pages/s"
    )
    print(f"ideal: {args.concurrency / args.latency:.0f} pages/s  target: >= 150 pages/s")


if __name__ == "__main__":
    main()
