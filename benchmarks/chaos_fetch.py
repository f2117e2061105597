"""Fault injection through the real ingest pipeline (issue 7): N URLs of a loopback chaos
server (tests/chaos_server.py), a share of them faulty, ingested as a `urls:` source.

    PYTHONPATH=. python benchmarks/chaos_fetch.py [--urls 1000] [--faults 0.3] [--seed 7]
                                                  [--json] [--check]

Every URL must end in the ledger as an article or as a failure of the kind its fault
calls for; transient faults (fail 1 or 2 times, within `retries`) must end as articles.
Prints faults by kind, handled, retried-ok, wall time and peak RSS; --check exits 1 when
a URL is unhandled, the run is over WALL_BOUND_S, or peak RSS is over RSS_BOUND_MB.
Sockets may connect to loopback only (tests/netguard.py): a redirect to 10.0.0.1 that
the fetcher failed to refuse raises instead of leaving this machine.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from ingest import FetchSettings, IngestSettings
from ingest.pipeline import run_ingest
from ingest.store import DB_NAME, ArticleStore
from ingest.types import SourceKind, SourceSpec
from ingest.urls import canonical_url
from tests.chaos_server import FAULTS, PERMANENT, TRANSIENT_FAULTS, ChaosServer
from tests.netguard import loopback_only

RSS_BOUND_MB = 256  # the whole process: interpreter, extraction libraries, server, pipeline
WALL_BOUND_S = 120.0  # no hang: a stall may cost (retries + 1) attempt deadlines, no more
SETTINGS = FetchSettings(
    concurrency=16,
    per_host=16,
    timeout=1.0,  # loopback answers in milliseconds; stalls and drips hit this
    retries=2,
    max_bytes=2_000_000,  # the 1 GB bodies are refused at this
    max_redirects=5,
    allow_loopback=True,  # the chaos server; private addresses stay refused
    per_host_delay=0.0,
    max_backoff=0.2,  # caps the server's one-hour Retry-After
)


def plan(count: int, fault_rate: float, seed: int, base: str) -> dict[str, tuple[str, int]]:
    """URL -> (fault, fails). Faults go round the kinds so each is present; the retryable
    ones go round failing 1, 2 (within `retries`: transient) or PERMANENT times."""
    faulty = round(count * fault_rate)
    kinds = [FAULTS[i % len(FAULTS)] for i in range(faulty)]
    fails = [(1, 2, PERMANENT)[i // len(FAULTS) % 3] for i in range(faulty)]
    faults = list(zip(kinds, fails, strict=True)) + [("ok", 0)] * (count - faulty)
    random.Random(seed).shuffle(faults)
    urls = {}
    for n, (fault, times) in enumerate(faults):
        times = times if fault in TRANSIENT_FAULTS else 0 if fault == "ok" else PERMANENT
        urls[f"{base}/{fault}/{n}/{times}"] = (fault, times)
    return urls


def expected(fault: str, n: int, fails: int) -> str:
    """The ledger outcome (article) or error kind a URL must end with."""
    if fault == "ok" or fails <= SETTINGS.retries or fault == "length_short":
        return "article"  # a short Content-Length cannot be told from a short page
    if fault == "http_5xx":
        return f"http_{(500, 502, 503, 504)[n % 4]}"
    if fault == "redirect_loop":
        return "redirect_loop" if n % 2 == 0 else "too_many_redirects"
    return {
        "http_429": "http_429",
        "reset": "connection_reset",
        "stall": "timeout",
        "truncated_gzip": "truncated_body",
        "length_long": "truncated_body",
        "private_redirect": "blocked_address",
        "huge_body": "too_large",
    }[fault]


def run(count: int, fault_rate: float, seed: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp, ChaosServer() as server, loopback_only():
        urls = plan(count, fault_rate, seed, server.base)
        listing = Path(tmp) / "urls.txt"
        listing.write_text("\n".join(urls) + "\n")
        store = ArticleStore.open(Path(tmp) / "data")
        started = time.monotonic()
        try:
            report = run_ingest(
                store,
                [SourceSpec(SourceKind.URLS, str(listing))],
                SETTINGS,
                IngestSettings(raw_cache=False),
            )
        finally:
            store.close()
        wall = time.monotonic() - started
        rows = _ledger(Path(tmp) / "data" / DB_NAME)
        hits = dict(server.hits)
    return _figures(urls, rows, hits, wall, report.errors)


def _ledger(db: Path) -> dict[str, tuple[str, int]]:
    """Canonical URL -> (outcome or error kind, retries)."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT url, outcome, error_kind, retries FROM fetches").fetchall()
    return {str(u): (str(k or o), int(r or 0)) for u, o, k, r in rows}


def _figures(
    urls: dict[str, tuple[str, int]],
    rows: dict[str, tuple[str, int]],
    hits: dict[str, int],
    wall: float,
    errors: list[str],
) -> dict[str, object]:
    injected: Counter[str] = Counter()
    recorded: Counter[str] = Counter()
    unhandled, retried_ok, transient, retries_spent = [], 0, 0, 0
    for url, (fault, fails) in urls.items():
        n, path = int(url.rsplit("/", 2)[1]), urlsplit(url).path
        got, retries = rows.get(canonical_url(url), ("missing", 0))
        recorded[got] += 1
        retries_spent += retries
        if fault != "ok":
            injected[f"{fault} ({'permanent' if fails == PERMANENT else 'transient'})"] += 1
        if fault in TRANSIENT_FAULTS and fails <= SETTINGS.retries:
            transient += 1
            # The server sent its faults and then the page, and the page is stored.
            retried_ok += got == "article" and hits.get(path, 0) > fails
        if got != expected(fault, n, fails):
            unhandled.append(f"{url}: expected {expected(fault, n, fails)}, got {got}")
    return {
        "urls": len(urls),
        "faults": sum(injected.values()),
        "faults_by_kind": dict(sorted(injected.items())),
        "handled": len(urls) - len(unhandled),
        "unhandled": unhandled[:20],
        "transient": transient,
        "retried_ok": retried_ok,
        "retries_spent": retries_spent,
        "recorded": dict(recorded.most_common()),
        "source_errors": errors,
        "wall_s": round(wall, 1),
        "peak_rss_mb": _peak_rss_mb(),
    }


def _peak_rss_mb() -> int:
    """This process's peak RSS. VmHWM belongs to the process's own memory map, whereas
    ru_maxrss keeps the high-water mark of the parent it was forked from across exec (a
    test runner that loaded models would show its size here)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--urls", type=int, default=1000)
    parser.add_argument("--faults", type=float, default=0.3, help="share of faulty URLs")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 when a bound is missed")
    args = parser.parse_args()
    figures = run(args.urls, args.faults, args.seed)
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key}: {value}")
        print(f"bounds: peak RSS {RSS_BOUND_MB} MB, wall {WALL_BOUND_S:.0f} s")
    ok = (
        figures["handled"] == figures["urls"]
        and figures["retried_ok"] == figures["transient"]
        and float(str(figures["wall_s"])) <= WALL_BOUND_S
        and int(str(figures["peak_rss_mb"])) <= RSS_BOUND_MB
    )
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
