"""`executor: ray` ingest on a real local Ray cluster (127.0.0.1, 2 CPUs): live fetching
keeps per-host politeness across workers, and WARC replay stores what a local run does."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from itertools import pairwise
from pathlib import Path

import pytest
from conftest import DEMO, LoopbackServer, Route

from assistant import AppConfig, Assistant
from index import RaySettings
from ingest import (
    ArticleStore,
    FetchSettings,
    IngestReport,
    RayIngest,
    parse_source_spec,
    run_ingest,
)

pytestmark = pytest.mark.slow

# fetch.per_host_delay of the live test: 1 s, because a fresh worker's first connection can
# arrive ~0.3 s late on a busy machine, while a broken pacing gives gaps of ~0.15 s.
DELAY = 1.0
PAGES = 8  # half on each host name


@pytest.fixture(scope="module")
def ray_address(ray_cluster: tuple[str, int]) -> Iterator[str]:
    """The cluster, joined once for the module: every ingest reuses this driver session
    (and its warm workers) instead of paying seconds to join and start workers again."""
    import ray

    ray.init(address=ray_cluster[0], log_to_driver=False, configure_logging=False)
    yield ray_cluster[0]
    ray.shutdown()


def _config(data_dir: Path, executor: str, address: str, **fetch: object) -> AppConfig:
    ray = RaySettings.model_validate(
        {"address": address, "ingest": {"batch_size": 2, "concurrency": 2}}
    )
    settings = FetchSettings.model_validate({"retries": 0, **fetch})
    return AppConfig(data_dir=data_dir, executor=executor, ray=ray, fetch=settings)  # type: ignore[arg-type]


def _store(data_dir: Path) -> dict[str, list[tuple[object, ...]]]:
    """What an ingest leaves in the store, minus times: articles, aliases, MinHash
    signatures (near-duplicate detection), ledger rows."""
    with sqlite3.connect(data_dir / "linkrag.sqlite") as db:
        return {
            "articles": db.execute(
                "SELECT id, url, title, language, text, text_hash, topic, duplicate_of "
                "FROM articles ORDER BY id"
            ).fetchall(),
            "aliases": db.execute("SELECT url, article_id FROM aliases ORDER BY url").fetchall(),
            "minhashes": db.execute("SELECT * FROM signatures ORDER BY article_id").fetchall(),
            "fetches": db.execute(
                "SELECT url, final_url, status, content_hash, error_kind, outcome, skip_kind, "
                "extract_chars FROM fetches ORDER BY url"
            ).fetchall(),
        }


def _counts(report: IngestReport) -> tuple[int, ...]:
    return (report.fetched, report.failed, report.articles_new, report.duplicates,
            report.near_duplicates, report.skipped, report.extracted)  # fmt: skip


def _page(i: int) -> bytes:
    words = " ".join(f"token{i}x{j}" for j in range(60))
    return (
        f"<html><head><title>Page {i}</title></head><body><article><h1>Page {i}</h1>"
        f"<p>Article number {i} of the politeness test. {words}.</p></article></body></html>"
    ).encode()


def _recording(body: bytes, seen: list[tuple[str, float]], status: int = 200) -> Route:
    """A route that records (Host header, arrival time) of every request it answers."""

    def answer(request: BaseHTTPRequestHandler) -> None:
        seen.append((request.headers.get("Host", ""), time.monotonic()))
        request.send_response(status)
        request.send_header("Content-Type", "text/html; charset=utf-8")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    return Route(handler=answer)


def _gaps(seen: list[tuple[str, float]]) -> dict[str, list[float]]:
    """Seconds between consecutive requests, per Host header."""
    by_host: dict[str, list[float]] = {}
    for host, at in sorted(seen, key=lambda hit: hit[1]):
        by_host.setdefault(host, []).append(at)
    return {host: [b - a for a, b in pairwise(times)] for host, times in by_host.items()}


def test_live_ray_ingest_is_polite_per_host_across_workers(
    tmp_path: Path,
    ray_address: str,
    loopback_server: Callable[[dict[str, Route]], LoopbackServer],
) -> None:
    """Two hosts (servers), 4 pages each, in batches of 2: each host's pages
    span 2 tasks, yet its requests stay `per_host_delay` apart, and Ray stores the same
    articles as a local run."""
    seen: list[tuple[str, float]] = []
    routes = {f"/p{i}.html": _recording(_page(i), seen) for i in range(PAGES)}
    routes["/robots.txt"] = _recording(b"", seen, status=404)
    # Two servers: two origins (hosts, to the Fetcher), with no DNS lookup in the timings.
    servers = [loopback_server(routes), loopback_server(routes)]
    urls = [servers[i % 2].url(f"/p{i}.html") for i in range(PAGES)]
    (tmp_path / "urls.txt").write_text("\n".join(urls) + "\n", "utf-8")
    source = [f"urls:{tmp_path / 'urls.txt'}"]
    fetch = {"allow_loopback": True, "per_host_delay": DELAY}

    local = Assistant(_config(tmp_path / "local", "local", "", **fetch)).ingest(sources=source)
    local_gaps, seen[:] = _gaps(seen), []
    ray = Assistant(_config(tmp_path / "ray", "ray", ray_address, **fetch)).ingest(sources=source)
    ray_gaps = _gaps(seen)

    assert local.articles_new == ray.articles_new == PAGES
    assert _counts(ray) == _counts(local)
    assert _store(tmp_path / "ray")["fetches"] == _store(tmp_path / "local")["fetches"]
    local_texts = {row[1]: row[5] for row in _store(tmp_path / "local")["articles"]}
    assert {row[1]: row[5] for row in _store(tmp_path / "ray")["articles"]} == local_texts
    hosts = {server.base.removeprefix("http://") for server in servers}
    assert set(ray_gaps) == set(local_gaps) == hosts
    # Per host: 4 pages plus robots.txt once per task (2 batches of 2), `per_host_delay`
    # apart. The margin: the client paces sends, the server stamps arrivals, and a fresh
    # worker's first connection is slower (lazy imports) on a busy machine; a host in two
    # tasks at once, or a batch not holding its first request, gives gaps near 0.
    assert {len(gaps) + 1 for gaps in ray_gaps.values()} == {4 + 2}
    assert min(min(gaps) for gaps in ray_gaps.values()) >= DELAY / 2, ray_gaps
    assert min(min(gaps) for gaps in local_gaps.values()) >= DELAY / 2, local_gaps
    assert sum(map(sum, ray_gaps.values())) >= 2 * (4 + 2 - 1) * DELAY * 0.9, ray_gaps


@pytest.fixture(scope="module")
def demo_warc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    warc = tmp_path_factory.mktemp("warc") / "demo.warc.gz"
    subprocess.run([sys.executable, str(DEMO / "make_warc.py"), str(warc)], check=True)
    return warc


def _ingest_both(
    tmp_path: Path, address: str, sources: list[str], replay: Path | None = None
) -> tuple[IngestReport, IngestReport]:
    reports = []
    for executor in ("local", "ray"):
        config = _config(tmp_path / executor, executor, address)
        reports.append(Assistant(config).ingest(sources=sources, replay=replay))
    assert _store(tmp_path / "ray") == _store(tmp_path / "local")
    return reports[0], reports[1]


def test_demo_warc_replay_on_ray_stores_what_a_local_run_does(
    tmp_path: Path, ray_address: str, demo_warc: Path
) -> None:
    """The demo's reading list replayed from its WARC (link batches on Ray), and the same
    WARC as a `warc:` source (shards of record offsets): the same store, row for row."""
    demo_list = "list:https://demo.linkrag.invalid/reading-list.md"
    local, ray = _ingest_both(tmp_path / "replay", ray_address, [demo_list], demo_warc)
    assert local.articles_new == 12 and _counts(ray) == _counts(local)
    local, ray = _ingest_both(tmp_path / "warc", ray_address, [f"warc:{demo_warc}"])
    assert local.articles_new >= 12 and _counts(ray) == _counts(local)


def test_a_folder_on_ray_stores_what_a_local_run_does(tmp_path: Path, ray_address: str) -> None:
    """A `dir:` source: files read on the driver, extracted (and MinHashed) in Ray tasks of
    2; a second Ray run reads every file again but extracts none (their bytes are stored)."""
    site = f"dir:{DEMO / 'site'}"
    local, ray = _ingest_both(tmp_path, ray_address, [site])
    assert local.articles_new >= 10 and _counts(ray) == _counts(local)
    again = Assistant(_config(tmp_path / "ray", "ray", ray_address)).ingest(sources=[site])
    assert again.extracted == 0 and again.unchanged == local.extracted


def test_shared_archive_on_ray_stores_what_a_local_run_does(
    tmp_path: Path, ray_address: str, shared_corpus: Path
) -> None:
    local, ray = _ingest_both(tmp_path, ray_address, [f"warc:{shared_corpus}"])
    assert 600 <= local.articles_new <= 640 and _counts(ray) == _counts(local)


def test_a_stop_ends_a_ray_warc_ingest_with_nothing_half_written(
    tmp_path: Path, ray_address: str, demo_warc: Path
) -> None:
    stop = threading.Event()
    config = _config(tmp_path / "data", "ray", ray_address)

    def progress(stage: str, done: int, total: int) -> None:
        if done >= 3:
            stop.set()

    (tmp_path / "data").mkdir()
    with ArticleStore.open(tmp_path / "data") as store:
        report = run_ingest(
            store, [parse_source_spec(f"warc:{demo_warc}")], config.fetch, config.extract,
            progress=progress, stop=stop, ray=RayIngest(ray_address, config.ray.ingest),
        )  # fmt: skip
    stored = _store(tmp_path / "data")
    assert report.interrupted and len(stored["fetches"]) == 3  # one ledger row per article
    assert len(stored["articles"]) == report.articles_new + report.duplicates
