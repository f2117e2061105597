"""Fault injection through the real ingest pipeline (issue 7, point 2): a loopback chaos
server (tests/chaos_server.py) serves 150 URLs, 30 % of them faulty with every fault kind
present, and `benchmarks/chaos_fetch.py` ingests them in a fresh process (so its peak RSS
is the run's own). The 1,000-URL run is the same script without --urls."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from chaos_server import FAULTS
from conftest import REPO

from benchmarks.chaos_fetch import RSS_BOUND_MB, WALL_BOUND_S


def test_every_faulty_url_is_fetched_or_recorded_with_its_kind() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    script = str(REPO / "benchmarks" / "chaos_fetch.py")
    # The subprocess timeout is the no-hang bound: stalls and drips must be cut off.
    done = subprocess.run(
        [sys.executable, script, "--urls", "150", "--json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=WALL_BOUND_S + 30,
        check=True,
    )
    figures = json.loads(done.stdout.splitlines()[-1])
    assert figures["urls"] == 150 and figures["faults"] == 45
    assert {kind.split()[0] for kind in figures["faults_by_kind"]} == set(FAULTS)
    assert "stall (permanent)" in figures["faults_by_kind"]
    assert figures["unhandled"] == [] and figures["handled"] == 150
    assert figures["retried_ok"] == figures["transient"] > 10
    assert figures["source_errors"] == []
    assert figures["peak_rss_mb"] <= RSS_BOUND_MB
    assert figures["wall_s"] <= WALL_BOUND_S
