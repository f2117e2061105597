"""Chunk size/overlap sweep: build one index per pair and score it on a QA file.

    python benchmarks/sweep_chunks.py eval/dev.jsonl [--data /work/archive-data]
        [--work /work] [--pairs 400/0,400/80,600/80,800/120,1000/150]
        [--split tune|heldout|all] [--rebuild]

Each pair gets its own data dir WORK/sweep-SIZE-OVERLAP holding copies of the store and the
embedding cache (the cache is carried from pair to pair, so a repeated run embeds nothing
new). Builds run one at a time. Only the chunking changes between rows: every other
setting comes from the config, and search runs in hybrid mode with no abstention.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from common import qa_parser

from assistant import Assistant, load_config
from assistant.evaluation import DEFAULT_K, evaluate_assistant, load_qa, select_split
from index import current_version

DEFAULT_PAIRS = "400/0,400/80,600/80,800/120,1000/150"
STORE, CACHE = "linkrag.sqlite", "embeddings.sqlite"
COLUMNS = ("r@1", "r@5", "r@10", "mrr", "zh r@5", "en r@5", "id r@5")


def parse_pairs(text: str) -> list[tuple[int, int]]:
    """ "400/0,600/80" → [(400, 0), (600, 80)]; ValueError naming a bad pair."""
    pairs = []
    for item in text.split(","):
        size, _, overlap = item.strip().partition("/")
        if not size.isdigit() or not overlap.isdigit():
            raise ValueError(f"bad pair {item!r}: write SIZE/OVERLAP, e.g. 600/80")
        pairs.append((int(size), int(overlap)))
    return pairs


def prepare(data: Path, work: Path, previous: Path | None) -> None:
    """A data dir with the source store and the fullest embedding cache available."""
    work.mkdir(parents=True, exist_ok=True)
    if not (work / STORE).exists():
        shutil.copy2(data / STORE, work / STORE)
    cache = previous / CACHE if previous and (previous / CACHE).exists() else data / CACHE
    mine = work / CACHE
    if cache.exists() and (not mine.exists() or cache.stat().st_size > mine.stat().st_size):
        shutil.copy2(cache, mine)


def run_pair(args: argparse.Namespace, size: int, overlap: int, work: Path) -> dict[str, Any]:
    env = {**os.environ, "LINKRAG_DATA": str(work)}
    env |= {"LINKRAG_INDEX__CHUNK_SIZE": str(size), "LINKRAG_INDEX__CHUNK_OVERLAP": str(overlap)}
    assistant = Assistant(load_config(args.config, env=env))
    started = time.perf_counter()
    report = assistant.reindex() if args.rebuild or current_version(work) is None else None
    built = time.perf_counter() - started
    items = select_split(load_qa(args.qa), args.split)
    result = evaluate_assistant(assistant, items, k=DEFAULT_K, abstention=False)
    chunks = assistant.status()["chunks"]
    return {"chunks": chunks, "build_s": built if report else None, "metrics": result["metrics"]}


def row_values(metrics: dict[str, Any], split: str) -> list[str]:
    group = metrics.get(split, {})

    def get(kind: str, key: str) -> str:
        value = group.get(kind, {}).get(key)
        return "-" if value is None else f"{value:.3f}"

    return [
        get("all", "recall@1"),
        get("all", "recall@5"),
        get("all", "recall@10"),
        get("all", "mrr@10"),
        get("zh_paraphrase", "recall@5"),
        get("en_cross", "recall@5"),
        get("identifier", "recall@5"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = qa_parser(__doc__, data_help="data dir whose store and embedding cache to copy")
    parser.add_argument("--work", type=Path, default=Path("/work"), help="parent of sweep-* dirs")
    parser.add_argument("--pairs", default=DEFAULT_PAIRS, help="SIZE/OVERLAP,... (characters)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild even if an index exists")
    args = parser.parse_args(argv)
    try:
        pairs = parse_pairs(args.pairs)
    except ValueError as exc:
        parser.error(str(exc))
    splits = ["tune", "heldout", "all"] if args.split == "all" else [args.split]
    print("| size/overlap | chunks | build s | split | " + " | ".join(COLUMNS) + " |")
    print("|---" * (4 + len(COLUMNS)) + "|")
    previous: Path | None = None
    for size, overlap in pairs:
        work = args.work / f"sweep-{size}-{overlap}"
        prepare(args.data, work, previous)
        print(f"sweep_chunks: {size}/{overlap} in {work}", file=sys.stderr)
        got = run_pair(args, size, overlap, work)
        build = "-" if got["build_s"] is None else f"{got['build_s']:.0f}"
        for split in splits:
            cells = [f"{size}/{overlap}", str(got["chunks"]), build, split]
            print("| " + " | ".join(cells + row_values(got["metrics"], split)) + " |", flush=True)
        previous = work
    return 0


if __name__ == "__main__":
    sys.exit(main())
