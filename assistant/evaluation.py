"""Retrieval metrics on a QA file: recall@1/5/10 and MRR@10 of article URLs vs gold URLs."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from index import Hit
from ingest import canonical_url

CUTOFFS = (1, 5, 10)


class QAFileError(ValueError):
    """A QA file that cannot be read, worded as one line naming the line and the fix."""


@dataclass(frozen=True)
class QAItem:
    """One question with the article URLs that answer it (empty: unanswerable)."""

    question: str
    gold_urls: tuple[str, ...]


def load_qa(path: Path) -> list[QAItem]:
    """Parse a JSONL file of {"question": str, "gold_urls": [str, ...]} objects."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise QAFileError(f"cannot read QA file {path}: {exc.strerror}") from exc
    items: list[QAItem] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            question = str(row.get("question") or row["query"])
            gold = tuple(canonical_url(str(u)) for u in row.get("gold_urls", []))
        except (ValueError, KeyError, AttributeError, TypeError) as exc:
            raise QAFileError(
                f"{path}:{number}: expected a JSON object with 'question' and 'gold_urls'"
            ) from exc
        items.append(QAItem(question, gold))
    return items


def _first_gold_rank(urls: list[str], gold: set[str]) -> int | None:
    return next((i for i, url in enumerate(urls, 1) if url in gold), None)


def evaluate_retrieval(
    items: Iterable[QAItem], search: Callable[[str, int], list[Hit]]
) -> dict[str, float | int]:
    """Mean recall@k (share of gold URLs among the top k hits' URLs) and MRR@10."""
    answerable = [item for item in items if item.gold_urls]
    totals = dict.fromkeys([f"recall@{k}" for k in CUTOFFS] + ["mrr@10"], 0.0)
    for item in answerable:
        urls = [hit.chunk.url for hit in search(item.question, max(CUTOFFS))]
        gold = set(item.gold_urls)
        for k in CUTOFFS:
            totals[f"recall@{k}"] += len(gold & set(urls[:k])) / len(gold)
        rank = _first_gold_rank(urls[:10], gold)
        totals["mrr@10"] += 1.0 / rank if rank else 0.0
    count = len(answerable)
    metrics: dict[str, float | int] = {"questions": count}
    for name, value in totals.items():
        metrics[name] = round(value / count, 4) if count else 0.0
    return metrics
