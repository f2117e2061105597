"""Replay ingest of the shared archive: throughput, unique articles (and why), a rerun.

    python benchmarks/ingest_replay.py [--warc ../shared/corpus/llm-articles.warc.gz]

Prints one figure per line; the README's ingest figures are copied from this output.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

from ingest import ArticleStore, FetchSettings, IngestSettings, parse_source_spec, run_ingest
from ingest.archive import WarcReplay
from ingest.urls import canonical_url


def _manifest_outcomes(store: ArticleStore, manifest: Path) -> Counter[str]:
    """What became of each file the archive's manifest lists (article, duplicate, ...)."""
    rows = dict(
        store._conn.execute(
            "SELECT url, COALESCE(skip_kind, error_kind, outcome) FROM fetches"
        ).fetchall()
    )
    outcomes: Counter[str] = Counter()
    for line in manifest.read_text(encoding="utf-8").splitlines():
        url = canonical_url(json.loads(line)["url"])
        outcomes[str(rows.get(url, "not in archive"))] += 1
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[2] / "shared/corpus/llm-articles.warc.gz"
    parser.add_argument("--warc", type=Path, default=default)
    args = parser.parse_args()
    spec = [parse_source_spec(f"warc:{args.warc}")]
    with WarcReplay(args.warc) as archive:
        records = len(archive)
    with (
        tempfile.TemporaryDirectory(prefix="linkrag-replay-") as data,
        ArticleStore.open(Path(data)) as store,
    ):
        started = time.perf_counter()
        report = run_ingest(store, spec, FetchSettings(), IngestSettings())
        wall = time.perf_counter() - started
        unique = store.stats().articles
        print(f"replay ingest: {wall:.1f} s wall, {records} response records")
        print(f"  {records / wall:.0f} records/s, {unique / wall:.0f} articles/s")
        print(
            f"  {unique} unique articles: {report.duplicates} exact duplicates, "
            f"{report.near_duplicates} near duplicates, skipped {report.skip_kinds}"
        )
        manifest = args.warc.with_name("manifest.jsonl")
        if manifest.exists():
            counted = _manifest_outcomes(store, manifest)
            print(f"  manifest files by outcome: {dict(counted.most_common())}")
        started = time.perf_counter()
        again = run_ingest(store, spec, FetchSettings(), IngestSettings())
        print(
            f"rerun, nothing changed: {time.perf_counter() - started:.2f} s, "
            f"{again.extracted} re-extractions, {again.unchanged} unchanged"
        )


if __name__ == "__main__":
    main()
