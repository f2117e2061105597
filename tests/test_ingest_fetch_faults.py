"""Focused checks of the fetcher faults the chaos run found (issue 7), each against the
loopback chaos server (tests/chaos_server.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from chaos_server import ChaosServer

from ingest import FetchSettings
from ingest.fetch_batch import fetch_urls
from ingest.types import FetchResult

FAST: dict[str, Any] = {
    "allow_loopback": True,
    "timeout": 1.0,
    "retries": 1,
    "per_host_delay": 0.0,
    "max_backoff": 0.05,
    "robots": False,
}


@pytest.fixture
def chaos() -> Iterator[ChaosServer]:
    with ChaosServer() as server:
        yield server


def test_time_queued_for_a_slot_is_not_the_request_deadline(chaos: ChaosServer) -> None:
    # One slot, 12 pages paced 0.15 s apart: the last waits 1.6 s, past the 4 x 0.3 s
    # deadline of one request, yet each request takes milliseconds.
    urls = [f"{chaos.base}/ok/{n}/0" for n in range(12)]
    pacing = {"timeout": 0.3, "retries": 0, "concurrency": 1, "per_host": 1}
    pacing["per_host_delay"] = 0.15
    settings = FetchSettings(**{**FAST, **pacing})
    results = fetch_urls(urls, settings)
    assert [r.error_kind for r in results] == [None] * 12
    assert max(r.elapsed for r in results) > 1.2


def test_a_too_short_content_length_does_not_break_the_next_request(chaos: ChaosServer) -> None:
    # The surplus body stays in the kept-alive connection; the next page must not pay for it.
    urls = [f"{chaos.base}/length_short/1/99", f"{chaos.base}/ok/2/0"]
    settings = FetchSettings(**{**FAST, "retries": 0, "concurrency": 1, "per_host": 1})
    short, after = fetch_urls(urls, settings)
    assert short.ok and after.ok and after.retries == 0, after.error


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ("reset", "connection_reset"),
        ("length_long", "truncated_body"),
        ("truncated_gzip", "truncated_body"),
    ],
)
def test_broken_bodies_are_named_and_retried(chaos: ChaosServer, fault: str, kind: str) -> None:
    always, once = f"{chaos.base}/{fault}/1/99", f"{chaos.base}/{fault}/2/1"
    failed, retried = fetch_urls([always, once], FetchSettings(**FAST))
    assert failed.error_kind == kind and failed.retries == 1 and failed.body == b""
    assert retried.ok and retried.retries == 1 and b"Chaos article 2" in retried.body


def test_results_can_go_to_the_callback_only(chaos: ChaosServer) -> None:
    seen: list[FetchResult] = []
    urls = [f"{chaos.base}/ok/{n}/0" for n in range(3)]
    assert fetch_urls(urls, FetchSettings(**FAST), seen.append, keep=False) == []
    assert sorted(r.url for r in seen) == urls and all(r.ok for r in seen)
