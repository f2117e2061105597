"""Hybrid vs dense-only vs BM25-only retrieval on a QA file, side by side.

    python benchmarks/eval_modes.py eval/dev.jsonl [--data /work/archive-data]
        [--split tune|heldout|all] [-k 30] [--no-abstention] [--json]

Runs `linkrag eval`'s code (assistant.evaluation.evaluate_assistant) once per mode over
the live index of the data dir; abstention in each mode uses that mode's hits.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from assistant import Assistant, load_config
from assistant.evaluation import DEFAULT_K, evaluate_assistant, load_qa, select_split
from index.search import SEARCH_MODES
from ui.output import eval_side_by_side

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = Path("/work/archive-data")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("qa", type=Path, help="QA file (JSONL)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="data dir with an index")
    parser.add_argument("--config", type=Path, default=REPO / "config.yaml")
    parser.add_argument("--split", choices=["tune", "heldout", "all"], default="all")
    parser.add_argument("-k", type=int, default=DEFAULT_K, help="chunks searched per question")
    parser.add_argument("--modes", default=",".join(SEARCH_MODES), help="comma-separated modes")
    parser.add_argument("--no-abstention", action="store_true", help="skip ask() per question")
    parser.add_argument("--json", action="store_true", help="one JSON object: mode → result")
    args = parser.parse_args(argv)

    config = load_config(args.config, env={**os.environ, "LINKRAG_DATA": str(args.data)})
    assistant = Assistant(config)
    items = select_split(load_qa(args.qa), args.split)
    results: dict[str, dict[str, Any]] = {}
    for mode in args.modes.split(","):
        print(f"eval_modes: {mode} over {len(items)} questions", file=sys.stderr)
        results[mode] = evaluate_assistant(
            assistant, items, mode=mode, k=args.k, abstention=not args.no_abstention
        )
    if args.json:
        print(json.dumps(results, ensure_ascii=False))
        return 0
    first = next(iter(results.values()))
    print(
        f"{len(items)} questions from {args.qa} (split {args.split}); index "
        f"{first['index_version']} in {args.data}; k {args.k} chunks"
    )
    print(eval_side_by_side({mode: result["metrics"] for mode, result in results.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
