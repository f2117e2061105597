"""Fetching many URLs at once: bounded concurrency over one Fetcher (ingest/fetch.py, which
with ingest/fetch_net.py does all the network I/O), and a blocking wrapper for sync callers."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import httpx

from ingest.fetch import Fetcher, Validators
from ingest.settings import FetchSettings
from ingest.types import FetchResult

__all__ = ["ResultFn", "fetch_all", "fetch_urls", "fetch_with", "run_sync"]

T = TypeVar("T")
ResultFn = Callable[[FetchResult], None]


async def fetch_all(
    urls: Sequence[str],
    settings: FetchSettings,
    on_result: ResultFn | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    validators: Validators | None = None,
    keep: bool = True,
) -> list[FetchResult]:
    """Fetch every URL (bounded concurrency); `on_result` sees each result as it lands.

    `validators` maps a URL to its stored (ETag, Last-Modified): those URLs are fetched
    with a conditional GET, and an unchanged one comes back with status 304.
    With `keep=False` the results go only to `on_result` and an empty list is returned,
    so a long run holds no body once it is handled (memory stays flat over thousands).
    """
    async with Fetcher(settings, transport=transport) as fetcher:
        return await fetch_with(fetcher, urls, on_result, validators=validators, keep=keep)


async def fetch_with(
    fetcher: Fetcher,
    urls: Sequence[str],
    on_result: ResultFn | None = None,
    *,
    validators: Validators | None = None,
    keep: bool = True,
) -> list[FetchResult]:
    """`fetch_all` with a Fetcher the caller opened (and may have primed, as Ray tasks do)."""
    known = validators or {}

    async def one(url: str) -> FetchResult | None:
        etag, last_modified = known.get(url, (None, None))
        result = await fetcher.fetch(url, etag=etag, last_modified=last_modified)
        if on_result is not None:
            on_result(result)
        return result if keep else None

    done = await asyncio.gather(*(one(url) for url in urls))
    return [result for result in done if result is not None]


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
    urls: Sequence[str],
    settings: FetchSettings,
    on_result: ResultFn | None = None,
    *,
    validators: Validators | None = None,
    keep: bool = True,
) -> list[FetchResult]:
    """Blocking wrapper of `fetch_all` for sync callers (pipeline, CLI)."""
    return run_sync(lambda: fetch_all(urls, settings, on_result, validators=validators, keep=keep))
