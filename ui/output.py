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
    cites = [{"n": c.n, "url": c.url, "title": c.title, "quote": c.quote} for c in answer.citations]
    return {
        "question": question,
        "answer": answer.text,
        "abstained": answer.abstained,
        "citations": cites,
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
    return (
        f"index: version {report.version}, {report.articles} articles, {report.chunks} chunks "
        f"({report.embedded} embedded, {report.cached} cached) in {report.seconds:.1f}s"
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
