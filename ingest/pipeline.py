"""run_ingest: sources → links → fetch (live or replay) → extract → dedup → store.

Each article is committed with its ledger row in one transaction, so a crash or a
signal loses at most the article in hand, and a rerun continues where the last stopped.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from warcio.exceptions import ArchiveLoadFailed

from ingest.archive import WarcRecorder, WarcReplay
from ingest.links import LinkRun
from ingest.local import ingest_dir, ingest_warc
from ingest.rawcache import RawCache
from ingest.ray_cluster import RayIngest, connected, import_ray
from ingest.saving import IngestReport, Saver
from ingest.settings import FetchSettings, IngestSettings
from ingest.sources import SourceError
from ingest.store import ArticleStore
from ingest.types import SourceKind, SourceSpec

log = logging.getLogger(__name__)

ProgressFn = Callable[[str, int, int], None]

__all__ = ["IngestOptions", "IngestReport", "ProgressFn", "run_ingest"]


@dataclass(frozen=True)
class IngestOptions:
    """How a run treats what the store already holds."""

    refresh: bool = False  # revalidate old links with conditional GET
    reextract: bool = False  # re-run extraction from the raw cache / local sources, no fetching
    all_sources: bool = False  # `sources` are all configured: links of other lists go stale
    raw_dir: Path | None = None  # where raw responses are cached (None: no cache)


@contextmanager
def _stop_on_signals(stop: threading.Event, report: IngestReport) -> Iterator[None]:
    """SIGINT/SIGTERM set `stop` (the run ends after the current article); a second one
    gets the caller's behaviour back so a stuck run can still be killed."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, frame: FrameType | None) -> None:
        log.warning("signal %d: stopping after the current article", signum)
        report.stopped_by = signum
        stop.set()
        for sig, old in previous.items():
            signal.signal(sig, old)

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_ingest(
    store: ArticleStore,
    sources: list[SourceSpec],
    fetch: FetchSettings,
    extract: IngestSettings,
    *,
    replay: Path | None = None,
    record: Path | None = None,
    progress: ProgressFn | None = None,
    options: IngestOptions | None = None,
    stop: threading.Event | None = None,
    ray: RayIngest | None = None,
) -> IngestReport:
    """Ingest every source into `store`; per-URL and per-source problems are reported, not raised.

    With `replay`, every fetch is answered from that WARC (misses become `replay_miss`
    failures); with `record`, every live response is appended to that WARC. Setting
    `stop` (or SIGINT/SIGTERM) ends the run after the current article, with
    `report.interrupted` set. With `ray`, fetching and extraction (of links and WARC
    sources) run as tasks on that Ray cluster; the store is still written here, alone.
    """
    started = time.perf_counter()
    options = options or IngestOptions()
    stop = stop or threading.Event()
    archive = WarcReplay(replay, github_raw=fetch.github_raw) if replay is not None else None
    if record is not None and archive is not None:
        log.warning("--record is ignored under --replay: nothing is fetched live")
    recorder = (
        WarcRecorder(record, fetch.user_agent) if record is not None and archive is None else None
    )
    report = IngestReport()
    saver = Saver(store, report, extract.near_duplicate)
    raw = RawCache(options.raw_dir) if options.raw_dir is not None and extract.raw_cache else None
    run = LinkRun(
        store, fetch, extract, saver, archive, recorder, raw, options, stop, progress, ray
    )
    try:
        with _stop_on_signals(stop, report), _cluster(ray):
            for spec in sources:
                if stop.is_set():
                    break
                _run_source(run, spec)
            _sweep_stale(run, sources, options)
    finally:
        if archive is not None:
            archive.close()
        if recorder is not None:
            recorder.close()
    report.interrupted = stop.is_set()
    report.skip_kinds = dict(saver.skips)
    report.seconds = time.perf_counter() - started
    return report


def _cluster(ray: RayIngest | None) -> AbstractContextManager[None]:
    """One Ray session for the whole run (joining takes seconds); none for a local run."""
    return nullcontext() if ray is None else connected(import_ray(), ray.address)


def _run_source(run: LinkRun, spec: SourceSpec) -> None:
    run.store.record_source(spec)
    try:
        if spec.kind is SourceKind.WARC:
            ingest_warc(run, Path(spec.location).expanduser())
        elif spec.kind is SourceKind.DIR:
            ingest_dir(run, Path(spec.location).expanduser())
        else:
            run.ingest_links(spec)
    except (SourceError, OSError, ValueError, ArchiveLoadFailed) as exc:
        message = f"source {spec} skipped: {exc}"
        log.error("%s", message)
        run.report.errors.append(message)


def _sweep_stale(run: LinkRun, sources: list[SourceSpec], options: IngestOptions) -> None:
    """Links of lists no longer configured go stale (only after a run over all of them),
    then articles reached only by stale links leave the index, and re-linked ones return."""
    if run.stop.is_set():
        return
    if options.all_sources and not options.reextract:
        run.report.stale_links += run.store.retire_sources(str(s) for s in sources)
    run.report.stale_articles = run.store.mark_stale_articles()
