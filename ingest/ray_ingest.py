"""Fetch and extraction as Ray tasks (`executor: ray`); the driver stays the one SQLite writer.

Tasks fetch through the same guarded Fetcher (ingest/fetch.py) and extract with the same
code as a local run; their results come home in batches, and the driver stores them with
the same Saver and ledger rows, one article per transaction, as a local run does.

Politeness across workers: host-partitioned batches, not a rate-limiter actor per host.
A host is in at most one task in flight, whose Fetcher applies `fetch.per_host` and
`fetch.per_host_delay` (and robots.txt's Crawl-delay) as it does locally; a host's next
batch holds its first request for the host's delay. Nothing is shared between workers,
so no lock, lease or actor can be lost with a dead worker, and each batch reads
robots.txt once. What it cannot bound: a redirect to another host that another task is
fetching at the same moment.

WARC replay is sharded by record offset: the driver indexes the archive once and ships
(path, offsets) shards; tasks seek, read and extract, and their results are stored in
archive order, so a Ray ingest of a WARC stores exactly what a local one does.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datasketch import MinHash

from ingest.archive import WarcIndex, WarcReplay
from ingest.dedup import minhash
from ingest.extract import Extracted, Skip, extract_page
from ingest.fetch import Fetcher, Validators, host_key
from ingest.fetch_batch import fetch_with, run_sync
from ingest.local import FileJob, GroupJob, GroupRead, Outcomes, read_group
from ingest.ray_cluster import RayIngest, batched, import_ray, in_order
from ingest.settings import FetchSettings
from ingest.types import FetchResult, Link

if TYPE_CHECKING:
    from ingest.links import LinkRun

__all__ = ["extract_files", "fetch_links", "read_warc_groups"]

Outcome = Extracted | Skip | None  # None: not extracted (a failed or unchanged fetch)
Landed = Callable[[FetchResult, Outcome], None]
Item = tuple[str, str]  # (URL, anchor text)


def _extracted(result: FetchResult, anchor: str, min_chars: int) -> tuple[FetchResult, Outcome]:
    outcome = extract_page(result, anchor, min_chars=min_chars) if result.ok else None
    return result, outcome


# --- WARC sources: shards of articles by record offset -------------------------------------


def _read_groups(path: str, jobs: list[GroupJob], min_chars: int) -> list[GroupRead]:
    """A Ray task: read and extract each article of `jobs` from the WARC at `path`."""
    with WarcReplay(Path(path), index=WarcIndex()) as archive:  # offsets given: no scan
        reads = [read_group(archive.read_at, job, min_chars) for job in jobs]
    for got in reads:  # the driver's costliest step otherwise (dedup needs it for new texts)
        if isinstance(got.outcome, Extracted):
            got.sketch = minhash(got.outcome.text)
    return reads


def read_warc_groups(
    cluster: RayIngest, path: Path, jobs: list[GroupJob], min_chars: int
) -> Generator[GroupRead, None, None]:
    """`read_group` of every job, on Ray, in the order of `jobs` (closing it cancels the rest)."""
    ray, stage = import_ray(), cluster.stage
    task = ray.remote(num_cpus=stage.cpus_per_task)(_read_groups)
    shards = batched(jobs, stage.batch_size)
    calls = (task.remote(str(path), list(shard), min_chars) for shard in shards)
    with closing(in_order(ray, calls, stage.concurrency)) as results:
        for reads in results:
            yield from reads


# --- folders: files read on the driver, extracted on the workers ---------------------------


def _extract_files(
    results: list[FetchResult], min_chars: int
) -> list[tuple[Extracted | Skip, MinHash | None]]:
    """A Ray task: extract each file's body, with the MinHash dedup needs of its text."""
    outcomes = [extract_page(result, min_chars=min_chars) for result in results]
    return [(o, minhash(o.text) if isinstance(o, Extracted) else None) for o in outcomes]


def extract_files(cluster: RayIngest, jobs: Iterable[FileJob], min_chars: int) -> Outcomes:
    """(job, outcome, MinHash) of every job, extracted on Ray, in the order of `jobs`; the
    jobs are pulled (their files read) only as tasks are submitted."""
    ray, stage = import_ray(), cluster.stage
    task = ray.remote(num_cpus=stage.cpus_per_task)(_extract_files)
    sent: deque[list[FileJob]] = deque()

    def calls() -> Iterator[Any]:
        for batch in batched(jobs, stage.batch_size):
            sent.append(batch)
            yield task.remote([job.result for job in batch], min_chars)

    with closing(in_order(ray, calls(), stage.concurrency)) as results:
        for pairs in results:
            for job, (outcome, sketch) in zip(sent.popleft(), pairs, strict=True):
                yield job, outcome, sketch


# --- links: replayed from a WARC, or fetched live -----------------------------------------


def fetch_links(run: LinkRun, links: list[Link], validators: Validators, landed: Landed) -> None:
    """Fetch and extract `links` on Ray; each result goes to `landed` on the driver."""
    items = [(link.url, link.anchor) for link in links]
    if run.replay is not None:
        _replay_links(run, run.replay, items, landed)
    else:
        _fetch_live(run, items, validators, landed)


def _replay_batch(
    path: str, github_raw: bool, index: WarcIndex, items: list[Item], min_chars: int
) -> list[tuple[FetchResult, Outcome]]:
    """A Ray task: replay and extract `items` from the WARC at `path`, indexed as `index`."""
    with WarcReplay(Path(path), github_raw=github_raw, index=index) as archive:
        return [_extracted(archive.fetch(url), anchor, min_chars) for url, anchor in items]


def _replay_links(run: LinkRun, replay: WarcReplay, items: list[Item], landed: Landed) -> None:
    assert run.ray is not None
    ray, stage = import_ray(), run.ray.stage
    task = ray.remote(num_cpus=stage.cpus_per_task)(_replay_batch)
    index = ray.put(replay.index)  # once into the object store, not once per task
    path, min_chars = str(replay.path), run.settings.min_chars
    calls = (
        task.remote(path, replay.github_raw, index, list(batch), min_chars)
        for batch in batched(items, stage.batch_size)
    )
    with closing(in_order(ray, calls, stage.concurrency)) as results:  # cancels on Interrupted
        for pairs in results:
            for result, outcome in pairs:
                landed(result, outcome)


def _fetch_batch(
    settings: FetchSettings,
    items: list[Item],
    validators: Validators,
    hold: dict[str, float],
    min_chars: int,
) -> tuple[list[tuple[FetchResult, Outcome]], dict[str, float]]:
    """A Ray task: fetch and extract `items`, whose hosts no other task is fetching.

    `hold` delays each host's first request (its previous batch may have just ended);
    returned with the results: each host's delay as this batch left it (Crawl-delay).
    """

    async def fetch() -> tuple[list[FetchResult], dict[str, float]]:
        async with Fetcher(settings) as fetcher:
            now = time.monotonic()
            for host, seconds in hold.items():
                fetcher.host(host).next_at = now + seconds
            results = await fetch_with(fetcher, [url for url, _ in items], validators=validators)
            hosts = {host_key(url, settings) for url, _ in items}
            return results, {host: fetcher.host(host).delay for host in hosts}

    results, delays = run_sync(fetch)
    anchors = dict(items)
    return [_extracted(result, anchors[result.url], min_chars) for result in results], delays


def _next_batch(queues: dict[str, deque[Item]], busy: set[str], size: int) -> list[Item]:
    """Up to `size` items of hosts no task in flight has; emptied hosts leave `queues`."""
    batch: list[Item] = []
    for host in [h for h in queues if h not in busy]:
        queue = queues[host]
        while queue and len(batch) < size:
            batch.append(queue.popleft())
        if not queue:
            del queues[host]
        if len(batch) >= size:
            break
    return batch


def _fetch_live(run: LinkRun, items: list[Item], validators: Validators, landed: Landed) -> None:
    """Host-partitioned batches (see the module doc), results stored as each batch lands."""
    assert run.ray is not None
    ray, stage, settings = import_ray(), run.ray.stage, run.fetch_settings
    task = ray.remote(num_cpus=stage.cpus_per_task)(_fetch_batch)
    queues: dict[str, deque[Item]] = {}
    for item in items:
        queues.setdefault(host_key(item[0], settings), deque()).append(item)
    hold: dict[str, float] = {}  # host -> delay its next batch waits before the first request
    flying: dict[Any, set[str]] = {}  # task ref -> the hosts it owns
    try:
        while queues or flying:
            _submit(run, task, queues, flying, hold, validators)
            (ref,), _ = ray.wait(list(flying), num_returns=1)
            flying.pop(ref)
            pairs, delays = ray.get(ref)
            hold.update(delays)
            for result, outcome in pairs:
                landed(result, outcome)
    finally:
        for ref in flying:
            ray.cancel(ref)


def _submit(
    run: LinkRun,
    task: Any,
    queues: dict[str, deque[Item]],
    flying: dict[Any, set[str]],
    hold: Mapping[str, float],
    validators: Validators,
) -> None:
    """Start tasks until `ray.ingest.concurrency` are in flight or no free host has work."""
    assert run.ray is not None
    settings, stage = run.fetch_settings, run.ray.stage
    while len(flying) < stage.concurrency:
        busy = set().union(*flying.values())
        batch = _next_batch(queues, busy, stage.batch_size)
        if not batch:
            return
        hosts = {host_key(url, settings) for url, _ in batch}
        known = {url: validators[url] for url, _ in batch if url in validators}
        waits = {host: hold[host] for host in hosts if host in hold}
        ref = task.remote(settings, batch, known, waits, run.settings.min_chars)
        flying[ref] = hosts
