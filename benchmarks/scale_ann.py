"""Dense index kinds at 5M vectors, streamed: build time, memory, latency and recall@10.

5M × 512 float32 is 10 GB, so the base is never held at all, let alone twice: each pass
regenerates it block by block from the seed (the generator of scale_dense.py, same rows),
the exact top-10 of every query is merged block by block, and each index kind is built by
adding blocks (IVF-PQ trained on the first --train rows), measured, and freed before the
next. The peak is then one index: about 10.5 GB for flat, 11 GB for hnsw.

    python benchmarks/scale_ann.py [--n 5000000] [--data clustered]
        [--kinds ivfpq,hnsw,flat] [--queries 1000] [--flat-queries 20] [--train 262144]
        [--truth FILE.npy]   # caches the exact top-10, so a rerun skips that pass
        plus the index options of scale_dense.py (--hnsw-m, --nlist, --nprobes, ...)
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.scale_dense import (
    Built,
    Row,
    _mark_cheapest,
    add_index_args,
    exact_top_blocks,
    make_vectors,
    print_table,
    rss_mb,
    save_size_mb,
    settings_and_sweeps,
    sweep_kind,
    vector_blocks,
)
from index.dense import DenseIndex
from index.settings import IndexSettings


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: how much the shared machine was busy."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def first_rows(data: str, n: int, rows: int) -> np.ndarray:
    """The first `rows` rows of the base: its blocks are drawn independently, so they are
    as good a training sample as any."""
    parts, have = [], 0
    for _, block in vector_blocks(data, n, seed=1):
        parts.append(block)
        have += len(block)
        if have >= rows:
            break
    return np.concatenate(parts)[:rows]


def truth_for(data: str, n: int, queries: np.ndarray, cache: str) -> np.ndarray:
    """Each query's exact top-10 rows, from the cache file if it holds this many queries."""
    path = Path(cache) if cache else None
    if path and path.exists():
        truth: np.ndarray = np.load(path)
        if len(truth) == len(queries):
            return truth
    started = time.perf_counter()
    truth = exact_top_blocks(vector_blocks(data, n, seed=1), queries)
    print(f"exact top-10 of {len(queries)} queries: {time.perf_counter() - started:.0f} s")
    if path:
        np.save(path, truth)
    return truth


def build_streamed(data: str, n: int, settings: IndexSettings, train: int) -> Built:
    """The index built block by block; build time counts FAISS only, not the generator."""
    gc.collect()
    rss = rss_mb()
    sample = first_rows(data, n, train)
    started = time.perf_counter()
    dense = DenseIndex.empty(sample, settings)
    spent = time.perf_counter() - started
    del sample
    dense.reserve(n)
    for lo, block in vector_blocks(data, n, seed=1):
        started = time.perf_counter()
        dense.add(block, np.arange(lo, lo + len(block)))
        spent += time.perf_counter() - started
        if lo % 1_000_000 == 0:
            print(f"  {lo:,} added, {spent:.0f} s, load {load_average()}", flush=True)
    grown = rss_mb() - rss
    with tempfile.TemporaryDirectory() as tmp:
        return Built(dense, spent, save_size_mb(dense, Path(tmp)), grown)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5_000_000)
    add_index_args(parser)
    parser.add_argument("--train", type=int, default=262_144, help="IVF-PQ training rows")
    parser.add_argument("--flat-queries", type=int, default=20)
    parser.add_argument("--truth", default="", help="cache file for the exact top-10")
    parser.set_defaults(data="clustered", kinds="ivfpq,hnsw,flat", hnsw_m=16, ef_construction=40)
    args = parser.parse_args()
    base_settings, sweeps = settings_and_sweeps(args)
    rows: list[Row] = []
    for data in args.data.split(","):
        queries = make_vectors(data, args.queries, seed=2)
        truth = truth_for(data, args.n, queries, args.truth)
        for kind in args.kinds.split(","):
            print(f"{data}: {kind} over {args.n:,} vectors, load {load_average()}", flush=True)
            settings = base_settings.model_copy(update={"dense": kind})
            built = build_streamed(data, args.n, settings, args.train)
            print(f"  built in {built.build_s:.0f} s, +{built.rss_mb:.0f} MB RSS", flush=True)
            rows += sweep_kind(data, built, queries, truth, settings, sweeps, args.flat_queries)
            print(f"  measured, load {load_average()}", flush=True)
            del built
            gc.collect()
    _mark_cheapest(rows, args.target)
    print_table(args.n, rows, args.target)


if __name__ == "__main__":
    main()
