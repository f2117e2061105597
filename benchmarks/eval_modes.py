"""Hybrid vs dense-only vs BM25-only retrieval on a QA file, side by side.

    python benchmarks/eval_modes.py eval/dev.jsonl [--data /work/archive-data]
        [--split tune|heldout|all] [-k 30] [--no-abstention] [--json]

Runs `linkrag eval`'s code (assistant.evaluation.evaluate_assistant) once per mode over
the live index of the data dir; abstention in each mode uses that mode's hits.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from common import load_assistant, qa_parser

from assistant.evaluation import DEFAULT_K, evaluate_assistant, load_qa, select_split
from index.search import SEARCH_MODES
from ui.output import eval_side_by_side


def main(argv: list[str] | None = None) -> int:
    parser = qa_parser(__doc__)
    parser.add_argument("-k", type=int, default=DEFAULT_K, help="chunks searched per question")
    parser.add_argument("--modes", default=",".join(SEARCH_MODES), help="comma-separated modes")
    parser.add_argument("--no-abstention", action="store_true", help="skip ask() per question")
    parser.add_argument("--json", action="store_true", help="one JSON object: mode → result")
    args = parser.parse_args(argv)

    assistant = load_assistant(args)
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
