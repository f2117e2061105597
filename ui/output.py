"""What the CLI prints: JSON lines per the design's contract, summaries, progress bars.

Kept apart from argument handling so the formats are easy to find and test; nothing
here imports Gradio.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from tqdm import tqdm

from assistant import Answer
from index import Hit, IndexReport
from ingest import IngestReport, ProgressFn


def progress_bars() -> tuple[ProgressFn, Callable[[], None]]:
    """A ProgressFn drawing a tqdm bar per stage on stderr (stages run one after another)."""
    live: list[Any] = []  # the bar of the current stage, if any
    names: list[str] = []

    def close() -> None:
        while live:
            live.pop().close()

    def progress(stage: str, done: int, total: int) -> None:
        if not names or names[-1] != stage:
            close()
            names.append(stage)
            live.append(
                tqdm(
                    total=total,
                    desc=stage,
                    unit="it",
                    file=sys.stderr,
                    dynamic_ncols=True,
                    mininterval=0.5,
                )
            )
        bar = live[0]
        if total and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)  # update() honours mininterval, so logs stay short

    return progress, close


def emit(obj: dict[str, Any]) -> None:
    print(json.dumps(obj, ensure_ascii=False), flush=True)


def hit_json(hit: Hit) -> dict[str, Any]:
    chunk = hit.chunk
    return {
        "rank": hit.rank,
        "url": chunk.url,
        "title": chunk.title,
        "score": round(float(hit.score), 6),
        "text": chunk.text,
        "chunk_id": chunk.chunk_id,
    }


def answer_json(question: str, answer: Answer) -> dict[str, Any]:
    """The `ask --json` contract, plus the checker's flags and the follow-up rewrite."""
    cites = [
        {
            "n": c.n,
            "url": c.url,
            "title": c.title,
            "quote": c.quote,
            "start": c.start,
            "end": c.end,
            "fragment_url": c.fragment_url,
        }
        for c in answer.citations
    ]
    return {
        "question": question,
        "answer": answer.text,
        "abstained": answer.abstained,
        "citations": cites,
        "unsupported": list(answer.unsupported),
        "rewritten_query": answer.rewritten_query,
    }


def ingest_summary(report: IngestReport) -> str:
    text = (
        f"ingest: {report.links} links, {report.fetched} fetched, {report.failed} failed, "
        f"{report.articles_new} new and {report.articles_updated} updated articles, "
        f"{report.duplicates} duplicates, {report.near_duplicates} near duplicates, "
        f"{report.skipped} skipped, {report.extracted} extracted in {report.seconds:.1f}s"
    )
    if report.revalidated:
        text += f"; refresh: {report.not_modified} of {report.revalidated} unchanged"
    if report.stale_articles:
        text += f"; {report.stale_articles} stale articles (kept, not indexed)"
    return text


def index_summary(report: IndexReport) -> str:
    counts = f"{report.articles} articles, {report.chunks} chunks"
    if report.mode == "unchanged":
        return f"index: up to date, version {report.version}, {counts} ({report.seconds:.1f}s)"
    why = f"full build: {report.reason}" if report.reason else report.mode
    changes = f", +{report.added} -{report.removed} chunks" if report.mode == "incremental" else ""
    return (
        f"index: version {report.version} ({why}{changes}), {counts} "
        f"({report.embedded} embedded, {report.cached} reused) in {report.seconds:.1f}s"
    )


def print_status(status: dict[str, Any]) -> None:
    """The human form of `linkrag status`: counts, then the ledger by outcome, site, kind."""
    status = dict(status)
    ledger = {key: status.pop(key, {}) for key in ("outcomes", "sites", "failure_kinds")}
    for key, value in status.items():
        print(f"{key}: {value if value is not None else '(none: run `linkrag build`)'}")
    outcomes = ledger["outcomes"]
    if outcomes:
        print("outcomes: " + ", ".join(f"{name} {count}" for name, count in outcomes.items()))
    for host, counts in ledger["sites"].items():
        parts = ", ".join(f"{name} {count}" for name, count in counts.items())
        print(f"  site {host or '(none)'}: {parts}")
    for kind, info in ledger["failure_kinds"].items():
        print(f"  {kind}: {info['count']}, e.g. {info['example']} ({info['reason']})")


# `linkrag eval` and the benchmarks: aligned tables of metrics by split and kind

_EVAL_COLUMNS = [
    ("n", "questions"),
    ("ans", "answerable"),
    ("r@1", "recall@1"),
    ("r@5", "recall@5"),
    ("r@10", "recall@10"),
    ("mrr@10", "mrr@10"),
    ("abst", "abstained"),
    ("falseAb", "false_abstentions"),
    ("abstP", "abstention_precision"),
    ("abstR", "abstention_recall"),
    ("p50ms", "latency_p50_ms"),
    ("p95ms", "latency_p95_ms"),
]
_SIDE_COLUMNS = [("r@1", "recall@1"), ("r@5", "recall@5"), ("r@10", "recall@10"), ("mrr", "mrr@10")]
_SIDE_FOOTER = [
    ("abstention P", "abstention_precision"),
    ("abstention R", "abstention_recall"),
    ("false abstentions", "false_abstentions"),
    ("latency p50 ms", "latency_p50_ms"),
    ("latency p95 ms", "latency_p95_ms"),
]


def _cell(value: Any, key: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}" if key.endswith("_ms") else f"{value:.3f}"
    return str(value)


def _aligned(rows: list[list[str]], left: int) -> str:
    """Rows as text: the first `left` columns left-aligned, the rest right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            cell.ljust(widths[i]) if i < left else cell.rjust(widths[i])
            for i, cell in enumerate(row)
        ).rstrip()
        for row in rows
    )


def eval_table(metrics: dict[str, dict[str, dict[str, Any]]]) -> str:
    """One row per (split, kind): counts, recall, MRR, abstention and latency."""
    rows = [["split", "kind", *(name for name, _ in _EVAL_COLUMNS)]]
    for split, kinds in metrics.items():
        for kind, values in kinds.items():
            rows.append([split, kind, *(_cell(values.get(key), key) for _, key in _EVAL_COLUMNS)])
    return _aligned(rows, 2)


def eval_side_by_side(reports: dict[str, dict[str, dict[str, dict[str, Any]]]]) -> str:
    """Several runs' metrics (name → split → kind → metrics) in one table, run by run."""
    names = list(reports)
    first = reports[names[0]]
    header = ["split", "kind", "n"]
    for name in names:
        header += [f"{name}:{label}" for label, _ in _SIDE_COLUMNS]
    rows = [header]
    for split, kinds in first.items():
        for kind, values in kinds.items():
            row = [split, kind, _cell(values.get("questions"))]
            for name in names:
                other = reports[name].get(split, {}).get(kind, {})
                row += [_cell(other.get(key), key) for _, key in _SIDE_COLUMNS]
            rows.append(row)
    footer = [["split", "", *names]]
    for split in first:
        for label, key in _SIDE_FOOTER:
            cells = [_cell(reports[n].get(split, {}).get("all", {}).get(key), key) for n in names]
            footer.append([split, label, *cells])
    return _aligned(rows, 2) + "\n\n" + _aligned(footer, 2)


def eval_summary(result: dict[str, Any], path: str) -> str:
    """The human form of `linkrag eval`: a header line, then the table."""
    overall = result["metrics"]["all"]["all"]
    head = (
        f"eval: {overall['questions']} questions from {path}; mode {result['mode']}, "
        f"k {result['k']} chunks, index {result.get('index_version') or '-'}"
    )
    return head + "\n" + eval_table(result["metrics"])
