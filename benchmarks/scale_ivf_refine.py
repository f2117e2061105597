"""IVF-PQ with an exact re-ranking step (faiss IndexRefineFlat) on synthetic vectors.

PQ codes alone cap recall@10 on uniform random 512-d vectors far below 0.9 (every
neighbour is barely nearer than the rest, so coarse distances shuffle them). Refining
keeps k·k_factor PQ candidates and re-scores them with the stored float vectors, at the
cost of keeping those vectors (4 bytes per dimension, like flat). The base is streamed
block by block (as in scale_ann.py), so only the index is held.

    python benchmarks/scale_ivf_refine.py [--n 100000] [--data random] [--pq-m 64]
        [--nprobes 16,64,256] [--k-factors 1,10,50] [--train 262144]
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from benchmarks.scale_ann import first_rows, load_average
from benchmarks.scale_dense import DIM, K, exact_top_blocks, make_vectors, rss_mb, vector_blocks

if TYPE_CHECKING:
    import faiss


def build(args: argparse.Namespace, nlist: int) -> tuple[faiss.Index, float]:
    """The refined IVF-PQ over the streamed base, and its FAISS build seconds."""
    import faiss

    quantizer = faiss.IndexFlatIP(DIM)
    ivf = faiss.IndexIVFPQ(quantizer, DIM, nlist, args.pq_m, 8, faiss.METRIC_INNER_PRODUCT)
    index = faiss.IndexRefineFlat(ivf)
    sample = first_rows(args.data, args.n, min(args.n, args.train))
    started = time.perf_counter()
    index.train(sample)
    spent = time.perf_counter() - started
    del sample
    for _, block in vector_blocks(args.data, args.n, seed=1):  # row numbers are the ids
        started = time.perf_counter()
        index.add(block)
        spent += time.perf_counter() - started
    return index, spent


def _disk_mb(index: faiss.Index) -> float:
    import faiss

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "refine.index"
        faiss.write_index(index, str(path))
        return path.stat().st_size / 2**20


def sweep(index: faiss.Index, queries: np.ndarray, truth: np.ndarray, nprobe: int, kf: int) -> str:
    """One table row: latency and recall@10 at this nprobe and k_factor, one query at a time."""
    import faiss

    params = faiss.IndexRefineSearchParameters(  # type: ignore[attr-defined]
        k_factor=kf,
        base_index_params=faiss.SearchParametersIVF(nprobe=nprobe),  # type: ignore[call-arg]
    )
    times, hits = [], 0
    for i, query in enumerate(queries):
        t0 = time.perf_counter()
        _, ids = index.search(query.reshape(1, -1), K, params=params)
        times.append((time.perf_counter() - t0) * 1000)
        hits += len(set(ids[0].tolist()) & set(truth[i].tolist()))
    p50, p95 = np.percentile(times, 50), np.percentile(times, 95)
    return f"| {nprobe} | {kf} | {p50:.2f} | {p95:.2f} | {hits / (K * len(queries)):.3f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--data", default="random")
    parser.add_argument("--nlist", type=int, default=0, help="0 = 4·sqrt(n)")
    parser.add_argument("--pq-m", type=int, default=64)
    parser.add_argument("--train", type=int, default=262_144, help="training rows")
    parser.add_argument("--nprobes", default="16,64,256,1024")
    parser.add_argument("--k-factors", default="1,10,50,200")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import faiss

    faiss.omp_set_num_threads(args.threads)
    queries = make_vectors(args.data, args.queries, seed=2)
    truth = exact_top_blocks(vector_blocks(args.data, args.n, seed=1), queries)
    nlist = args.nlist or round(4 * np.sqrt(args.n))
    gc.collect()
    rss = rss_mb()
    index, built = build(args, nlist)
    grown, disk = rss_mb() - rss, _disk_mb(index)
    print(f"{args.data} n={args.n:,} nlist={nlist} m={args.pq_m}x8b: build {built:.0f} s,")
    print(f"  +{grown:.0f} MB RSS, {disk:.0f} MB on disk, load {load_average()}")
    print("| nprobe | k_factor | p50 ms | p95 ms | recall@10 |\n|---|---|---|---|---|")
    for nprobe in map(int, args.nprobes.split(",")):
        for k_factor in map(int, args.k_factors.split(",")):
            print(sweep(index, queries, truth, nprobe, k_factor), flush=True)


if __name__ == "__main__":
    main()
