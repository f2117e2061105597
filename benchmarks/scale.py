"""Cost curve: build wall time, peak memory and chunks/s against corpus size, local vs ray.

    python benchmarks/scale.py --tiers 100,1000,3000,10000 --executors local,ray \
        --embed-sample 100 --out scale.json  # the README's run

Corpus: synthetic markdown articles for a `dir:` source (benchmarks/synthetic.py: the archive's
length distribution and Chinese/English mix), deterministic by --seed.

Each (tier, executor) builds in a fresh data dir through `Assistant(config).rebuild`, in a child
process under `nice -n 5`, twice over:
- `real`: the bundled embedder (USE), for tiers <= --embed-sample: everything is measured.
- `stub`: a hash embedder with the same 512 dims, for every tier: the whole pipeline (ingest,
  chunking, BM25, embedding cache, FAISS, publish) at full size except the model itself.
For tiers above --embed-sample, the wall time is DERIVED: stub wall + chunks / the embedding
rate that executor reached in its largest real run (output field `derived: true`).
Peak memory: the build process's ru_maxrss; on ray plus the sum of the per-process peaks
(VmHWM, polled) of the Ray cluster's processes, which runs in its own session per build.
CPU seconds (the driver's per stage; the cluster's in all) drive the 10M-chunk projection,
since wall times on a shared machine measure the neighbours too (see `projection`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from raycluster import cluster_env, session_usage, start_cluster, stop_cluster

from index import IndexSettings, RaySettings, register_embedder

STUB = "scale-stub"
REAL = "use-m3"  # the bundled embedder, IndexSettings' default
TARGET = 10_000_000  # chunks, for the projection


class StubEmbedder:
    """Hash-seeded unit vectors in 512 dims: the cost of everything around the model."""

    id = STUB
    dim = 512

    def embed_batch(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        rows = [np.random.default_rng(zlib.crc32(t.encode())).standard_normal(self.dim)
                for t in texts]  # fmt: skip
        vectors = np.asarray(rows, np.float32).reshape(len(texts), self.dim)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-9)


def register_stub() -> None:
    """Makes `index.embedder: scale-stub` resolvable (also run on every Ray worker)."""
    register_embedder(STUB, lambda settings: StubEmbedder())


# --- one build, in a child process ---------------------------------------------------------


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """Build spec["corpus"] into spec["data"] and time its stages (runs in the child)."""
    from assistant import AppConfig, Assistant

    stub = spec["embedder"] == STUB
    if stub:
        register_stub()
    ray = RaySettings(address=spec["address"], embed={"concurrency": spec["concurrency"]})
    config = AppConfig(data_dir=Path(spec["data"]), executor=spec["executor"], ray=ray,
                       index=IndexSettings(embedder=spec["embedder"]))  # fmt: skip
    spans: dict[str, list[float]] = {}
    resident: dict[str, float] = {}  # the highest RSS seen at a stage's progress calls

    def progress(stage: str, done: int, total: int) -> None:
        now = (time.perf_counter(), time.process_time())
        spans.setdefault(stage, [*now, *now])[2:] = now
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        resident[stage] = max(resident.get(stage, 0.0), pages * os.sysconf("SC_PAGE_SIZE") / 2**20)

    started, cpu = time.perf_counter(), time.process_time()
    if spec["executor"] == "ray":
        _join_ray(spec["address"], stub)
    report = Assistant(config).rebuild(progress, sources=[f"dir:{spec['corpus']}"])
    built = report.index
    assert built is not None, "the build was interrupted"
    return {
        "wall_s": time.perf_counter() - started, "ingest_s": report.ingest.seconds,
        "index_s": built.seconds, "articles": built.articles, "chunks": built.chunks,
        "embedded": built.embedded, "cpu_s": time.process_time() - cpu,
        "stages_s": {k: b - a for k, (a, _, b, _) in spans.items()},
        "stages_cpu_s": {k: d - c for k, (_, c, _, d) in spans.items()},
        "driver_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "stage_rss_mb": {k: round(v) for k, v in resident.items()},
    }  # fmt: skip


def _join_ray(address: str, stub: bool) -> None:
    """Join the cluster here, so the stub embedder is registered on every worker it starts."""
    import ray

    hook = {"worker_process_setup_hook": "scale.register_stub"} if stub else {}
    ray.init(address=address, log_to_driver=False, configure_logging=False, runtime_env=hook)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False


# --- the harness -----------------------------------------------------------------------------


def measure(corpus: Path, executor: str, embedder: str, args: argparse.Namespace) -> dict[str, Any]:
    """One build of `corpus` in a fresh data dir (and a fresh Ray cluster, on ray)."""
    cluster = start_cluster(args.cpus) if executor == "ray" else None
    data = Path(tempfile.mkdtemp(prefix="scale-data-", dir=args.work))
    spec = {"corpus": str(corpus), "data": str(data), "executor": executor,
            "embedder": embedder, "address": cluster[0] if cluster else "",
            "concurrency": args.concurrency}  # fmt: skip
    try:
        out, usage = _watch(spec, cluster[1] if cluster else None)
    finally:
        if cluster:
            stop_cluster(cluster[1], cluster[2])
        shutil.rmtree(data, ignore_errors=True)
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result.update(executor=executor, embedder=embedder, **usage)
    result["peak_mb"] = round(result["driver_mb"] + result["ray_mb"])
    return result


def _watch(spec: dict[str, Any], session: int | None) -> tuple[str, dict[str, Any]]:
    """Runs the child under `nice -n 5`, sampling the load average and the cluster's usage."""
    peaks: dict[int, float] = {}
    cpu: dict[int, float] = {}
    baseline: dict[int, float] = {}  # CPU the cluster spent starting up is not the build's
    loads = []
    if session:
        session_usage(session, {}, baseline)
    with tempfile.TemporaryFile("w+") as err:
        command = ["nice", "-n", "5", sys.executable, __file__, "--child", json.dumps(spec)]
        proc = subprocess.Popen(command, env=cluster_env(), stdout=subprocess.PIPE, stderr=err,
                                text=True)  # fmt: skip
        while proc.poll() is None:
            loads.append(os.getloadavg()[0])
            if session:
                session_usage(session, peaks, cpu)
            time.sleep(0.5)
        err.seek(0)
        out = proc.stdout.read() if proc.stdout else ""
        if proc.returncode != 0:
            raise SystemExit(f"build failed ({spec['executor']}): {err.read()[-2000:]}")
    used = sum(c - baseline.get(p, 0) for p, c in cpu.items())
    return out, {"load_avg": round(sum(loads) / len(loads), 1),
                 "ray_mb": round(sum(peaks.values())), "ray_processes": len(peaks),
                 "ray_cpu_s": round(used, 1)}  # fmt: skip


def embed_rate(run: dict[str, Any]) -> float:
    """Chunks/s of the embedding stage (cache misses over the span of its progress reports)."""
    return float(run["embedded"]) / max(run["stages_s"].get("embed", 0.0), 1e-9)


def cpu_rate(run: dict[str, Any]) -> float:
    """Chunks per CPU second of embedding: the driver's embed stage, or the whole Ray cluster's."""
    cpu = run["ray_cpu_s"] if run["executor"] == "ray" else run["stages_cpu_s"].get("embed", 0)
    return float(run["embedded"]) / max(cpu, 1e-9)


def rows_of(runs: list[dict[str, Any]], executors: list[str]) -> list[dict[str, Any]]:
    """One row per (tier, executor): measured, or derived as stub wall + chunks / real rate."""
    rows = []
    for executor in executors:
        mine = [r for r in runs if r["executor"] == executor]
        real = {r["tier"]: r for r in mine if r["embedder"] != STUB}
        stub = {r["tier"]: r for r in mine if r["embedder"] == STUB}
        rate = embed_rate(real[max(real)]) if real else None
        for tier in sorted(stub):
            base = real.get(tier) or stub[tier]
            derived = tier not in real and rate is not None
            wall = base["wall_s"] + base["chunks"] / rate if derived and rate else base["wall_s"]
            rows.append({"tier": tier, "executor": executor, "chunks": base["chunks"],
                         "wall_s": round(wall, 1), "derived": derived,
                         "stub_wall_s": round(stub[tier]["wall_s"], 1),
                         "chunks_per_s": round(base["chunks"] / wall, 1),
                         "embed_rate": round(rate, 1) if rate else None,
                         "peak_mb": base["peak_mb"], "load_avg": base["load_avg"]})  # fmt: skip
    return rows


def exponent(points: list[tuple[float, float]]) -> float | None:
    """Slope of log(wall) against log(chunks): 1.0 is linear."""
    if len(points) < 2:
        return None
    xs, ys = zip(*((math.log(c), math.log(w)) for c, w in points), strict=True)
    return round(float(np.polyfit(xs, ys, 1)[0]), 3)


def projection(
    runs: list[dict[str, Any]], executor: str, cpus: float, fleet: Sequence[int]
) -> dict[str, Any]:
    """Hours for 10M chunks on N workers of `cpus` dedicated cores each, from CPU seconds (the
    machine here is shared): the driver's CPU seconds without the model (the two largest stub
    runs' exponent, extrapolated) + 10M / (N x cpus x chunks per CPU second of the real run).
    The stages run one after another (the driver waits for the embedding), hence the sum."""
    mine = [r for r in runs if r["executor"] == executor]
    stub = sorted((r["chunks"], r["cpu_s"], r["driver_mb"]) for r in mine
                  if r["embedder"] == STUB and "cpu_s" in r)  # fmt: skip
    real = [r for r in mine if r["embedder"] != STUB and "cpu_s" in r]
    if not real or len(stub) < 2:
        return {}
    # the two largest tiers: at small ones, start-up costs flatten the curve
    slope, mem_slope = (exponent([(p[0], p[i]) for p in stub[-2:]]) for i in (1, 2))
    per_worker = cpu_rate(max(real, key=lambda r: r["chunks"])) * cpus
    chunks, driver_cpu, driver_mb = stub[-1]
    driver_s = driver_cpu * (TARGET / chunks) ** slope
    hours = {n: round((driver_s + TARGET / (n * per_worker)) / 3600, 1) for n in fleet}
    return {"driver_cpu_exponent": slope, "per_worker_chunks_s": round(per_worker, 1),
            "driver_memory_exponent": mem_slope,
            "driver_gb_10m": round(driver_mb * (TARGET / chunks) ** mem_slope / 1024),
            "driver_hours_10m": round(driver_s / 3600, 1), "hours_10m_by_workers": hours,
            "driver_bound_from_workers": round(TARGET / (per_worker * driver_s), 1)}  # fmt: skip


def report(runs: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    """Rows, exponents and projections; printed and returned for --out."""
    rows = rows_of(runs, args.executors)
    summary: dict[str, Any] = {"runs": runs, "rows": rows, "exponents": {}, "projection": {}}
    for row in rows:
        kind = "derived" if row["derived"] else "measured" if row["embed_rate"] else "no model"
        print(f"{row['tier']:>7} articles {row['executor']:>5}: {row['chunks']:>8} chunks "
              f"{row['wall_s']:>8.1f} s ({kind}; without the model {row['stub_wall_s']} s) "
              f"{row['chunks_per_s']:>6.1f} chunks/s  peak {row['peak_mb']} MB  "
              f"load {row['load_avg']}")  # fmt: skip
    for executor in args.executors:
        stub = [r for r in runs if r["executor"] == executor and r["embedder"] == STUB]
        mine = [r for r in rows if r["executor"] == executor]
        fits = summary["exponents"][executor] = {
            "wall": exponent([(r["chunks"], r["wall_s"]) for r in mine]),
            "stub_wall": exponent([(r["chunks"], r["wall_s"]) for r in stub]),
            "stub_cpu": exponent([(r["chunks"], r["cpu_s"]) for r in stub if "cpu_s" in r]),
        }  # fmt: skip
        # local: one process embedding with 2 threads; ray: workers of --cpus-per-worker
        cpus, fleet = (1.0, (1, 8, 64)) if executor == "ray" else (2.0, (1,))
        summary["projection"][executor] = projection(runs, executor, cpus, fleet)
        print(f"{executor}: exponents (log wall or CPU s against log chunks) {json.dumps(fits)}; "
              f"10M chunks: {json.dumps(summary['projection'][executor])}")  # fmt: skip
    return summary


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    listed = lambda text: text.split(",")  # noqa: E731
    parser.add_argument(
        "--tiers",
        type=lambda t: [int(n) for n in listed(t)],
        default=[1000, 10000],
        help="articles per tier, comma-separated",
    )
    parser.add_argument("--executors", type=listed, default=["local", "ray"])
    parser.add_argument(
        "--embed-sample",
        type=int,
        default=1000,
        help="tiers up to this many articles also build with the real model",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="JSON of every run and the summary; the "
        "runs an existing file holds are kept, not measured again",
    )
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--work", type=Path, default=Path("/tmp/linkrag-scale"))
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the Ray cluster")
    parser.add_argument("--concurrency", type=int, default=2, help="Ray embedding workers")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    return parser.parse_args(argv)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    from synthetic import make_corpus  # here: builds and Ray workers need not load its words

    args.work.mkdir(parents=True, exist_ok=True)
    runs: list[dict[str, Any]] = []
    if args.out and args.out.exists():
        runs = json.loads(args.out.read_text())["runs"]
    done = {(r["tier"], r["executor"], r["embedder"]) for r in runs}
    for tier in args.tiers:
        corpus = make_corpus(args.work, tier, args.seed)
        for executor in args.executors:
            kinds = [STUB, REAL] if tier <= args.embed_sample else [STUB]
            for embedder in (k for k in kinds if (tier, executor, k) not in done):
                run = {"tier": tier, **measure(corpus, executor, embedder, args)}
                runs.append(run)
                print(json.dumps(run), flush=True)
                if args.out:  # after every run: a long session keeps what it measured
                    args.out.write_text(json.dumps({"runs": runs}, indent=1))
    summary = report(runs, args)
    if args.out:
        args.out.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
