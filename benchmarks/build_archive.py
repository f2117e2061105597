"""Build throughput, index size, query latency and memory on the shared archive.

    python benchmarks/build_archive.py [--warc ../shared/corpus/llm-articles.warc.gz] [--data DIR]

Prints one figure per line; the README's performance table is copied from this output.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

from index import IndexSettings, SearchIndex, build_index
from ingest import ArticleStore, FetchSettings, IngestSettings, parse_source_spec, run_ingest

QUERIES = [
    "ZeRO-3 是如何切分模型参数的？",
    "What does PagedAttention solve?",
    "KV cache 显存怎么估算",
    "LoRA 的秩 r 如何选择",
    "NCCL all-reduce ring algorithm",
    "vLLM 连续批处理",
    "GPTQ 量化原理",
    "FlashAttention tiling",
    "张量并行和流水线并行的区别",
    "CUDA_VISIBLE_DEVICES",
]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_warc = Path(__file__).resolve().parents[2] / "shared/corpus/llm-articles.warc.gz"
    parser.add_argument("--warc", type=Path, default=default_warc)
    parser.add_argument("--data", type=Path, default=None, help="data dir (default: a temp dir)")
    parser.add_argument("--rounds", type=int, default=20, help="query rounds for latency")
    args = parser.parse_args()
    data = args.data or Path(tempfile.mkdtemp(prefix="linkrag-bench-"))
    settings = IndexSettings()

    with ArticleStore.open(data) as store:
        t0 = time.perf_counter()
        report = run_ingest(
            store, [parse_source_spec(f"warc:{args.warc}")], FetchSettings(), IngestSettings()
        )
        ingest_s = time.perf_counter() - t0
        print(f"ingest: {report.articles_new} articles in {ingest_s:.1f} s")
        t0 = time.perf_counter()
        built = build_index(store, data, settings)
        index_s = time.perf_counter() - t0
        print(
            f"index: {built.chunks} chunks ({built.embedded} embedded, {built.cached} cached)"
            f" in {index_s:.1f} s = {built.embedded / max(index_s, 1e-9):.1f} chunks/s"
        )
        print(f"index size: {built.bytes / 1e6:.1f} MB")
        t0 = time.perf_counter()
        again = build_index(store, data, settings)
        print(f"unchanged rebuild: {time.perf_counter() - t0:.1f} s, {again.embedded} embedded")

    index = SearchIndex.load(data, settings)
    index.search("warm up")
    latencies = []
    for _ in range(args.rounds):
        for query in QUERIES:
            t0 = time.perf_counter()
            index.search(query, k=8)
            latencies.append((time.perf_counter() - t0) * 1000)
    latencies.sort()
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    print(
        f"query latency: p50 {statistics.median(latencies):.1f} ms, p95 {p95:.1f} ms"
        f" over {len(latencies)} queries"
    )
    print(f"peak RSS: {_peak_rss_mb():.0f} MB")
    print(f"data dir: {data}")


if __name__ == "__main__":
    main()
