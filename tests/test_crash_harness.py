"""Crash harness: `linkrag ingest` and `linkrag index` run as real CLI subprocesses against a
loopback site and are SIGKILLed at seeded progress points (no cleanup code runs).

After every kill: each SQLite file passes `PRAGMA integrity_check`; every article committed
before the kill is still there, whole and with its ledger row; the served index (CURRENT)
loads and answers. After the last kill of an episode, a rerun finishes and yields exactly the
articles and chunks of an uninterrupted run. SIGTERM and Ctrl-C (SIGINT) stop cleanly.

Cost: 82 s of CPU for the module (228 s wall on the shared 2-core machine at load 15-18);
the index kills dominate, each killed run loading the USE model again.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import crash_support as cs
import pytest
from conftest import LoopbackServer, serve_routes

from assistant import Assistant, load_config
from ui.cli import main

pytestmark = pytest.mark.slow

INITIAL, TOTAL = 20, 40  # articles in the list at the first build, and after it grew
EPISODES, KILLS = 3, 5  # per stage: fresh copies of the start state, kills chained in each
SEED = 20261129


@dataclass
class World:
    """The site, and the states and results of uninterrupted runs the harness compares to."""

    server: LoopbackServer
    config: Path
    root: Path
    base: Path  # INITIAL articles ingested and indexed; the list now holds TOTAL
    ingested: Path  # base + an uninterrupted `ingest` (not yet indexed)
    articles: dict[str, str]  # URL → text hash after the uninterrupted ingest
    ledger: set[str]
    base_chunks: set[str]
    chunks: set[str]  # chunk ids after an uninterrupted `index` of `ingested`
    embedded: int  # vectors that index run added to the cache


@contextmanager
def _data(data_dir: Path) -> Iterator[None]:
    # Batches of 32 here: only the killed runs need one cache commit per chunk.
    wanted = {"LINKRAG_DATA": str(data_dir), "LINKRAG_INDEX__BATCH_SIZE": "32"}
    saved = {key: os.environ.get(key) for key in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                del os.environ[key]
            else:
                os.environ[key] = value


def _run(command: str, data_dir: Path, config: Path) -> None:
    """One uninterrupted run of the CLI in this process (it reuses the session's model)."""
    with _data(data_dir):
        assert main(["--config", str(config), command]) == 0


def _copy(world: World, source: Path, name: str) -> Path:
    return Path(shutil.copytree(source, world.root / name))


@pytest.fixture(scope="module")
def zygote() -> Iterator[cs.Zygote]:
    forks = cs.Zygote()
    yield forks
    forks.close()


def _fork(zygote: cs.Zygote, world: World, command: str, data_dir: Path) -> cs.Forked:
    argv = ["--config", str(world.config), command]
    return zygote.fork(argv, {"LINKRAG_DATA": str(data_dir)}, data_dir.with_suffix(".err"))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, use: Any) -> Iterator[World]:
    routes = cs.site_routes(TOTAL)
    server, site = serve_routes(routes)
    root = tmp_path_factory.mktemp("crash")
    config = cs.write_config(root / "config.yaml", site.base)
    routes["/list.md"] = cs.reading_list(site.base, INITIAL)
    base = root / "base"
    _run("ingest", base, config)
    _run("index", base, config)
    routes["/list.md"] = cs.reading_list(site.base, TOTAL)
    ingested = Path(shutil.copytree(base, root / "ingested"))
    _run("ingest", ingested, config)
    indexed = Path(shutil.copytree(ingested, root / "indexed"))
    _run("index", indexed, config)
    yield World(
        site, config, root, base, ingested, cs.articles(ingested), cs.article_ledger(ingested),
        cs.chunk_ids(base), cs.chunk_ids(indexed),
        cs.cached_vectors(indexed) - cs.cached_vectors(ingested),
    )  # fmt: skip
    server.shutdown()
    server.server_close()


def test_the_world_is_what_the_harness_assumes(world: World) -> None:
    assert len(cs.articles(world.base)) == INITIAL and len(world.articles) == TOTAL
    assert world.ledger == set(world.articles)
    assert world.base_chunks < world.chunks and world.embedded >= 2 * (TOTAL - INITIAL)


# checks after every kill


def _served(world: World, data_dir: Path) -> set[str]:
    """The chunk ids CURRENT serves, after checking it loads and answers."""
    config = load_config(world.config, env={"LINKRAG_DATA": str(data_dir)})
    hits = Assistant(config).search(cs.QUERY, k=3)
    assert hits, "the served index answered nothing"
    return cs.chunk_ids(data_dir)


def _check_store(world: World, data_dir: Path, committed: set[str]) -> dict[str, str]:
    assert set(cs.integrity(data_dir).values()) == {"ok"}
    stored = cs.articles(data_dir)
    assert committed <= set(stored), f"lost: {sorted(committed - set(stored))}"
    # whole articles only: the text of the uninterrupted run, and the ledger row with it
    assert all(world.articles.get(url) == digest for url, digest in stored.items())
    assert cs.article_ledger(data_dir) == set(stored)
    return stored


def _summary(stage: str, kills: list[tuple[str, str]], started: float) -> str:
    counts = dict(Counter(where for where, _ in kills))
    return f"{stage}: {len(kills)} SIGKILLs survived in {time.monotonic() - started:.1f} s {counts}"


# ingest


def _ingest_probe(world: World, data_dir: Path, plan: tuple[str, float]) -> Callable[[], Any]:
    kind, value = plan
    launched, hits = time.monotonic(), world.server.hits.get("/list.md", 0)

    def probe() -> tuple[int, set[str]] | None:
        listed = world.server.hits.get("/list.md", 0) - hits
        if kind == "delay" and time.monotonic() - launched < value:
            return None
        if kind == "list" and not listed:
            return None
        committed = set(cs.articles(data_dir))
        if kind == "commits" and len(committed) < value:
            return None
        return listed, committed

    return probe


def _ingest_plan(rng: random.Random) -> list[tuple[str, float]]:
    """A kill before the list is read, one once it is, then three at article counts."""
    counts = sorted(rng.sample(range(INITIAL + 1, TOTAL), KILLS - 2))
    return [("delay", rng.uniform(0.0, 0.3)), ("list", 0), *[("commits", c) for c in counts]]


def test_ingest_survives_sigkill_at_seeded_points(world: World, zygote: cs.Zygote) -> None:
    started, kills = time.monotonic(), []
    for episode in range(EPISODES):
        data_dir = _copy(world, world.base, f"ingest-{episode}")
        for plan in _ingest_plan(random.Random(SEED + episode)):
            before = len(cs.articles(data_dir))
            if plan[0] == "commits":  # past what is stored, short of the end (still running)
                plan = (plan[0], min(max(plan[1], before + 1), TOTAL - 1))
            outcome = cs.kill_when(_fork(zygote, world, "ingest", data_dir),
                                   _ingest_probe(world, data_dir, plan))  # fmt: skip
            assert outcome.killed, f"{plan}: exited {outcome.returncode}: {outcome.stderr}"
            listed, committed = cast(tuple[int, set[str]], outcome.snapshot)
            new = len(committed) - before
            where = "articles" if new else ("reading list" if listed else "startup")
            kills.append((where, f"{plan[0]}: {new} new of {TOTAL - before} left"))
            _check_store(world, data_dir, committed)
            assert _served(world, data_dir) == world.base_chunks
        _run("ingest", data_dir, world.config)
        assert cs.articles(data_dir) == world.articles
        assert cs.article_ledger(data_dir) == world.ledger
    print(_summary("ingest", kills, started), *kills, sep="\n  ")
    assert len(kills) == EPISODES * KILLS
    assert {"startup", "articles"} <= {where for where, _ in kills}


# index


@dataclass
class IndexSnap:
    vectors: int
    staging: list[str]
    current: str


def _index_probe(
    data_dir: Path, plan: tuple[str, float], old: str
) -> Callable[[], IndexSnap | None]:
    kind, value = plan
    launched = time.monotonic()

    def probe() -> IndexSnap | None:
        if kind == "delay" and time.monotonic() - launched < value:
            return None
        # "late": a staging folder being written, or the new version published
        if kind == "late" and not cs.staging(data_dir) and cs.current(data_dir) == old:
            return None
        vectors = cs.cached_vectors(data_dir)
        if kind == "vectors" and vectors < value:
            return None
        return IndexSnap(vectors, cs.staging(data_dir), cs.current(data_dir))

    return probe


def _index_stage(snap: IndexSnap, at_launch: int, total: int, old: str) -> str:
    if snap.current != old:
        return "published"
    if snap.staging:
        return "writing"
    if snap.vectors == at_launch and snap.vectors < total:
        return "startup"
    return "embedding" if snap.vectors < total else "after embedding"


def _index_plan(rng: random.Random, baseline: int, embedded: int) -> list[tuple[str, float]]:
    """A kill while loading, two at cache sizes, one once every vector is paid for, and one
    while writing the new version or after publishing it (loading it before exiting)."""
    counts = sorted(rng.sample(range(baseline + 1, baseline + embedded), KILLS - 3))
    return [("delay", rng.uniform(0.05, 1.0)), *[("vectors", c) for c in counts],
            ("vectors", baseline + embedded), ("late", 0)]  # fmt: skip


def test_index_survives_sigkill_at_seeded_points(world: World, zygote: cs.Zygote) -> None:
    started, kills = time.monotonic(), []
    for episode in range(EPISODES):
        data_dir = _copy(world, world.ingested, f"index-{episode}")
        old, baseline = cs.current(data_dir), cs.cached_vectors(data_dir)
        total = baseline + world.embedded
        for plan in _index_plan(random.Random(SEED + 100 + episode), baseline, world.embedded):
            at_launch = cs.cached_vectors(data_dir)
            if plan[0] == "vectors":
                plan = (plan[0], min(max(plan[1], at_launch + 1), total))
            outcome = cs.kill_when(_fork(zygote, world, "index", data_dir),
                                   _index_probe(data_dir, plan, old))  # fmt: skip
            assert outcome.killed, f"{plan}: exited {outcome.returncode}: {outcome.stderr}"
            snap = outcome.snapshot
            assert isinstance(snap, IndexSnap)
            where = _index_stage(snap, at_launch, total, old)
            kills.append((where, f"{plan[0]}: {snap.vectors - baseline}/{world.embedded} vectors"))
            assert cs.cached_vectors(data_dir) >= snap.vectors  # paid-for vectors are kept
            _check_store(world, data_dir, set(world.articles))
            assert _served(world, data_dir) in (world.base_chunks, world.chunks)
        _run("index", data_dir, world.config)
        assert cs.chunk_ids(data_dir) == world.chunks
        assert cs.cached_vectors(data_dir) == total
        assert cs.staging(data_dir) == []  # no dead build's folder is left behind
    print(_summary("index", kills, started), *kills, sep="\n  ")
    assert len(kills) == EPISODES * KILLS
    stages = {where for where, _ in kills}
    assert {"startup", "embedding"} <= stages
    # Once every vector is paid for, the build opens its staging folder and tokenizes
    # inside it (FAISS is saved first to free its memory), so that kill lands in "writing".
    assert {"after embedding", "writing"} & stages
    assert {"writing", "published"} & stages


# SIGTERM and Ctrl-C: a clean stop, not a kill


def _stopped(outcome: cs.Outcome, sig: signal.Signals) -> None:
    assert outcome.snapshot is not None, "the run ended before the signal"
    assert outcome.returncode == 128 + sig, outcome.stderr
    assert "Traceback" not in outcome.stderr
    assert "linkrag: interrupted" in outcome.stderr or "linkrag: terminated" in outcome.stderr


def _after_commits(data_dir: Path, count: int) -> Callable[[], set[str] | None]:
    def probe() -> set[str] | None:
        committed = set(cs.articles(data_dir))
        return committed if len(committed) >= count else None

    return probe


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_ingest_stops_after_the_article_in_hand(
    world: World, zygote: cs.Zygote, sig: signal.Signals
) -> None:
    data_dir = _copy(world, world.base, f"ingest-{sig.name}")
    run = _fork(zygote, world, "ingest", data_dir)
    outcome = cs.kill_when(run, _after_commits(data_dir, INITIAL + 3), sig)
    _stopped(outcome, sig)
    assert "run the same command again" in outcome.stderr
    stored = _check_store(world, data_dir, outcome.snapshot)  # type: ignore[arg-type]
    assert len(stored) < TOTAL  # it stopped early, with whole articles only
    _run("ingest", data_dir, world.config)
    assert cs.articles(data_dir) == world.articles


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_index_discards_the_build_in_progress(
    world: World, zygote: cs.Zygote, sig: signal.Signals
) -> None:
    data_dir = _copy(world, world.ingested, f"index-{sig.name}")
    old, baseline = cs.current(data_dir), cs.cached_vectors(data_dir)
    # One through a fresh interpreter, as a user starts it: the forked runs behave alike.
    argv = ["--config", str(world.config), "index"]
    env = {"LINKRAG_DATA": str(data_dir)}
    spawned = sig is signal.SIGTERM
    run = cs.Spawned(argv, env) if spawned else _fork(zygote, world, "index", data_dir)
    outcome = cs.kill_when(run, _index_probe(data_dir, ("vectors", baseline + 3), old), sig)
    _stopped(outcome, sig)
    assert cs.current(data_dir) == old and cs.staging(data_dir) == []
    assert _served(world, data_dir) == world.base_chunks
    assert cs.cached_vectors(data_dir) >= baseline + 3  # what it paid for is kept
    assert set(cs.integrity(data_dir).values()) == {"ok"}


def test_build_stopped_during_ingest_does_not_go_on_to_index(
    world: World, zygote: cs.Zygote
) -> None:
    data_dir = _copy(world, world.base, "build-SIGTERM")
    versions = sorted(p.name for p in (data_dir / "index").iterdir())
    run = _fork(zygote, world, "build", data_dir)
    outcome = cs.kill_when(run, _after_commits(data_dir, INITIAL + 3), signal.SIGTERM)
    _stopped(outcome, signal.SIGTERM)
    assert sorted(p.name for p in (data_dir / "index").iterdir()) == versions
    assert cs.cached_vectors(data_dir) == cs.cached_vectors(world.base)  # nothing embedded
