"""Calibrate abstention on the dev set: thresholds vs abstention recall and false abstentions.

    python benchmarks/calibrate_abstention.py eval/dev.jsonl [--data /work/archive-data]
        [--split tune|heldout|all] [--per-question]

For every question it retrieves the hits the assistant would answer from (hybrid, top_k),
computes the retrieval signals of `assistant.abstention`, then prints, per split:

1. each signal alone as a threshold (abstain below it): recall on unanswerable questions
   and the false-abstention rate on answerable ones;
2. the rule (min_similarity, weak_similarity with agreement, named terms) over a grid of
   weak_similarity, with and without the named-terms rule.

`--per-question` lists tune questions only: heldout is reported in aggregate, never
looked at question by question (eval/README.md).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

from common import load_index, load_qa_config, qa_parser

from assistant.abstention import CorpusNames, Signals, signals
from assistant.config import AbstentionSettings
from assistant.evaluation import QAItem, load_qa, select_split
from index import SearchIndex

WEAK_GRID = (0.30, 0.35, 0.38, 0.40, 0.42, 0.45, 0.50)


@dataclass(frozen=True)
class Row:
    item: QAItem
    signals: Signals


def collect(
    index: SearchIndex, items: list[QAItem], k: int, min_sim: float, settings: AbstentionSettings
) -> list[Row]:
    """Signals of every question, named terms looked up in `settings.named_terms_scope`."""
    names = CorpusNames(index.corpus_text, index.article_text)
    rows = []
    for done, item in enumerate(items, 1):
        hits = index.search(item.question, k=k)
        rows.append(Row(item, signals(item.question, hits, min_sim, settings, names)))
        print(f"\rsignals {done}/{len(items)}", end="", file=sys.stderr)
    print(file=sys.stderr)
    return rows


def rates(rows: list[Row], abstains: Callable[[Row], bool]) -> tuple[float, float]:
    """(recall on unanswerable, false-abstention rate on answerable)."""
    unanswerable = [r for r in rows if not r.item.answerable]
    answerable = [r for r in rows if r.item.answerable]
    recall = sum(map(abstains, unanswerable)) / max(1, len(unanswerable))
    false = sum(map(abstains, answerable)) / max(1, len(answerable))
    return recall, false


def single_signal_table(rows: list[Row]) -> list[str]:
    lines = ["signal alone (abstain below t)   t        recall(unans)  false-abst(ans)"]
    grids = {
        "top cosine": [0.30, 0.35, 0.40, 0.45, 0.50],
        "top fused score": [0.026, 0.029, 0.031, 0.032, 0.033],
        "fused gap": [0.0005, 0.001, 0.002, 0.004],
    }
    pick = {
        "top cosine": lambda s: s.top_cosine,
        "top fused score": lambda s: s.top_score,
        "fused gap": lambda s: s.gap,
    }
    for name, grid in grids.items():
        for t in grid:
            recall, false = rates(rows, lambda r, t=t, n=name: pick[n](r.signals) < t)
            lines.append(f"{name:<32} {t:<8g} {recall:>13.2f}  {false:>15.3f}")
    recall, false = rates(rows, lambda r: not r.signals.agreement)
    lines.append(f"{'dense/BM25 disagree':<32} {'-':<8} {recall:>13.2f}  {false:>15.3f}")
    recall, false = rates(rows, lambda r: bool(r.signals.missing))
    lines.append(f"{'named term missing (scope)':<32} {'-':<8} {recall:>13.2f}  {false:>15.3f}")
    return lines


def rule_table(rows: list[Row], min_sim: float) -> list[str]:
    lines = ["rule: no evidence at min_sim OR (cos<weak AND disagree) [OR named term missing]"]
    lines.append("min_sim  weak   named  recall(unans)  false-abst(ans)")
    for named in (False, True):
        for weak in WEAK_GRID:

            def abstains(r: Row, weak: float = weak, named: bool = named) -> bool:
                s = r.signals
                return (
                    not s.evidence
                    or (s.top_cosine < weak and not s.agreement)
                    or (named and bool(s.missing))
                )

            recall, false = rates(rows, abstains)
            flag = "yes" if named else "no"
            lines.append(f"{min_sim:<8.2f} {weak:<6.2f} {flag:<6} {recall:>13.2f}  {false:>15.3f}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = qa_parser(__doc__)
    parser.add_argument("--per-question", action="store_true", help="tune questions, one a line")
    parser.add_argument(
        "--scope", choices=["articles", "passages", "corpus"], help="named_terms_scope to use"
    )
    args = parser.parse_args(argv)

    scope = {"LINKRAG_ANSWER__ABSTENTION__NAMED_TERMS_SCOPE": args.scope} if args.scope else {}
    config = load_qa_config(args, **scope)
    index = load_index(config)
    items = select_split(load_qa(args.qa), args.split)
    min_sim = config.answer.min_similarity
    rows = collect(index, items, config.answer.top_k, min_sim, config.answer.abstention)
    splits = ["tune", "heldout"] if args.split == "all" else [args.split]
    for split in splits:
        chosen = [r for r in rows if r.item.split == split]
        unans = sum(1 for r in chosen if not r.item.answerable)
        print(f"\n## {split}: {len(chosen)} questions, {unans} unanswerable\n")
        print("\n".join(single_signal_table(chosen)))
        print()
        print("\n".join(rule_table(chosen, min_sim)))
    if args.per_question:
        print("\n## tune, per question: answerable cos fused gap agree missing reasons")
        for r in sorted(rows, key=lambda r: (r.item.answerable, r.signals.top_cosine)):
            if r.item.split != "tune":
                continue
            s = r.signals
            print(
                f"{int(r.item.answerable)} {s.top_cosine:.3f} {s.top_score:.4f} {s.gap:.4f} "
                f"{int(s.agreement)} {','.join(s.missing) or '-'} | {'; '.join(s.reasons) or '-'}"
                f" | {r.item.question[:40]}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
