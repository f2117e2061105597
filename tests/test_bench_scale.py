"""benchmarks/scale.py in the small: its corpus is deterministic, a two-tier run builds and
fits an exponent, and derived figures are computed from the measured parts as documented."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from conftest import REPO

BENCHMARKS = REPO / "benchmarks"
SCRIPT = BENCHMARKS / "scale.py"


def _bench_module(name: str) -> ModuleType:
    """A benchmarks/ module, imported as the scripts import each other (folder on sys.path)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.fixture(scope="module")
def scale() -> ModuleType:
    return _bench_module("scale")


def test_articles_are_deterministic_mixed_markdown() -> None:
    synthetic = _bench_module("synthetic")
    texts = [synthetic.make_article(i, seed=3) for i in range(40)]
    assert texts == [synthetic.make_article(i, seed=3) for i in range(40)]
    assert texts[0] != synthetic.make_article(0, seed=4)
    assert len(set(texts)) == 40
    assert all(t.startswith("# ") and len(t) >= synthetic.MIN_CHARS for t in texts)
    chinese = sum(1 for t in texts if "。" in t)
    assert 5 <= chinese <= 35  # ~46% Chinese-led
    assert any("```python" in t for t in texts) and any("\n## " in t for t in texts)


def test_a_tiny_local_run_builds_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "scale.json"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, str(SCRIPT), "--tiers", "8", "--executors", "local",
               "--embed-sample", "0", "--out", str(out), "--work", str(tmp_path)]  # fmt: skip
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads(out.read_text())
    [built] = summary["runs"]
    assert (built["tier"], built["articles"], built["embedder"]) == (8, 8, "scale-stub")
    assert built["chunks"] > 8 and built["embedded"] == built["chunks"]
    assert built["driver_mb"] > 50 and built["wall_s"] > built["ingest_s"] > 0
    assert {"chunk", "embed", "tokenize"} <= built["stages_s"].keys()
    assert 0 < sum(built["stages_cpu_s"].values()) <= built["cpu_s"]
    assert set(summary["exponents"]["local"].values()) == {None}  # one tier: nothing to fit
    assert summary["projection"]["local"] == {}  # no real-model run: nothing to project
    assert "no model" in run.stdout


def _run(tier: int, embedder: str, chunks: int, wall: float, cpu: float) -> dict[str, object]:
    return {"tier": tier, "executor": "ray", "embedder": embedder, "chunks": chunks,
            "embedded": chunks, "wall_s": wall, "cpu_s": wall / 2, "ray_cpu_s": cpu,
            "stages_s": {"embed": wall / 2}, "peak_mb": 100, "driver_mb": chunks / 10,
            "load_avg": 1.0}  # fmt: skip


def test_derived_walls_and_the_projection_follow_the_documented_formula(
    scale: ModuleType,
) -> None:
    runs = [_run(10, scale.STUB, 1000, 10.0, 1.0), _run(10, scale.REAL, 1000, 40.0, 40.0),
            _run(100, scale.STUB, 10_000, 100.0, 5.0)]  # fmt: skip
    rows = scale.rows_of(runs, ["ray"])
    # measured at tier 10; at 100: stub wall + chunks / (1,000 chunks / 20 s embed stage)
    assert [(r["wall_s"], r["derived"]) for r in rows] == [(40.0, False), (300.0, True)]
    plan = scale.projection(runs, "ray", cpus=1.0, fleet=(1, 8, 64))
    # driver: 50 CPU s at 10k chunks, linear (5 -> 50 s for 1k -> 10k chunks)
    assert plan["driver_cpu_exponent"] == 1.0 and plan["driver_hours_10m"] == round(5e4 / 3600, 1)
    assert plan["driver_memory_exponent"] == 1.0 and plan["driver_gb_10m"] == round(1e6 / 1024)
    assert plan["per_worker_chunks_s"] == 25.0  # 1,000 chunks / 40 cluster CPU s, 1 CPU each
    hours_8 = (50_000 + scale.TARGET / (8 * 25.0)) / 3600
    assert plan["hours_10m_by_workers"][8] == round(hours_8, 1)
    assert plan["driver_bound_from_workers"] == 8.0  # 10M / (25 chunks/s x 50,000 s)
