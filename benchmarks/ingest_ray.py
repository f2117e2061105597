"""Ingest of a WARC source, local vs `executor: ray` (record-offset shards on Ray tasks).

    ray start --head --port 6390 --num-cpus 2 --include-dashboard=false
    PYTHONPATH=. python benchmarks/ingest_ray.py --address 127.0.0.1:6390 \
        [--warc ../shared/corpus/llm-articles.warc.gz] [--batch-size 32] [--concurrency 2]
    ray stop

(A cluster started by hand, not a private `ray.init()` one: Ray 2.60 then writes an auth
token to ~/.ray that later `ray start` clusters, the tests', refuse.) Prints one figure per
line: wall time of a local ingest, of joining Ray, and of two Ray ingests (the first starts
and warms the workers), each into a fresh store; the README's Ray ingest figures.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from ingest import (
    ArticleStore,
    FetchSettings,
    IngestSettings,
    RayIngest,
    RayIngestSettings,
    parse_source_spec,
    run_ingest,
)
from ingest.ray_cluster import connected, import_ray


def _ingest(data_dir: Path, warc: Path, ray: RayIngest | None) -> tuple[float, int]:
    started = time.perf_counter()
    with ArticleStore.open(data_dir) as store:
        spec = parse_source_spec(f"warc:{warc}")
        report = run_ingest(store, [spec], FetchSettings(), IngestSettings(), ray=ray)
    return time.perf_counter() - started, report.articles_new


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[2] / "shared/corpus/llm-articles.warc.gz"
    parser.add_argument("--warc", type=Path, default=default)
    parser.add_argument("--address", required=True, help="host:port of a Ray head node")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    stage = RayIngestSettings(batch_size=args.batch_size, concurrency=args.concurrency)
    cluster = RayIngest(args.address, stage)
    with tempfile.TemporaryDirectory() as tmp:
        seconds, articles = _ingest(Path(tmp) / "local", args.warc, None)
        print(f"local ingest: {seconds:.1f} s, {articles} articles")
        ray, started = import_ray(), time.perf_counter()
        with connected(ray, args.address):
            print(f"join Ray: {time.perf_counter() - started:.1f} s")
            for run in ("cold", "warm"):
                seconds, articles = _ingest(Path(tmp) / run, args.warc, cluster)
                print(f"ray ingest ({run} workers): {seconds:.1f} s, {articles} articles")


if __name__ == "__main__":
    main()
