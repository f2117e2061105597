"""Retrieval and abstention metrics over per-question outcomes: pure functions, no I/O.

A question's outcome is the rank of its first gold article among the distinct articles of
the hits (several chunks of one article count once, at the rank of the best one), whether
the assistant abstained, and how long the search took. Metrics group outcomes by split
and by kind; "all" is the group of every question.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from ingest import canonical_url

CUTOFFS = (1, 5, 10)
MRR_DEPTH = 10
ALL = "all"
KIND_ORDER = ("zh_paraphrase", "en_cross", "identifier", "unanswerable")
SPLIT_ORDER = ("tune", "heldout")

Metrics = dict[str, Any]
Report = dict[str, dict[str, Metrics]]  # split → kind → metrics


def url_key(url: str) -> str:
    """The comparison key of an article URL: canonical, then percent-decoded."""
    return unquote(canonical_url(url))


def article_ranking(urls: Iterable[str]) -> list[str]:
    """Distinct article keys of hit URLs in rank order (an article's best hit counts)."""
    return list(dict.fromkeys(url_key(url) for url in urls))


def first_gold_rank(ranking: Sequence[str], gold: Collection[str]) -> int | None:
    """The 1-based rank of the first gold article in `ranking`, or None."""
    return next((i for i, key in enumerate(ranking, 1) if key in gold), None)


@dataclass(frozen=True)
class Outcome:
    """What happened to one question."""

    kind: str
    split: str
    answerable: bool
    rank: int | None = None  # first gold article among distinct articles; None: not found
    abstained: bool | None = None  # None: abstention not measured
    latency_ms: float = 0.0


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _ratio(part: float, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def group_metrics(outcomes: Sequence[Outcome]) -> Metrics:
    """Counts, recall@1/5/10 and MRR@10 over answerable questions, abstention P/R, latency.

    Recall@k is the share of answerable questions whose gold article is among the first k
    distinct articles. Abstention precision is the share of abstentions that were on
    unanswerable questions; recall the share of unanswerable questions that abstained;
    `false_abstentions` counts answerable questions that abstained. A ratio with nothing
    to divide by is None.
    """
    answerable = [o for o in outcomes if o.answerable]
    count = len(answerable)
    metrics: Metrics = {
        "questions": len(outcomes),
        "answerable": count,
        "unanswerable": len(outcomes) - count,
    }
    for k in CUTOFFS:
        found = sum(1 for o in answerable if o.rank is not None and o.rank <= k)
        metrics[f"recall@{k}"] = _ratio(found, count)
    reciprocal = sum(1 / o.rank for o in answerable if o.rank is not None and o.rank <= MRR_DEPTH)
    metrics[f"mrr@{MRR_DEPTH}"] = _ratio(reciprocal, count)
    judged = [o for o in outcomes if o.abstained is not None]
    abstained = [o for o in judged if o.abstained]
    correct = sum(1 for o in abstained if not o.answerable)
    unanswerable = sum(1 for o in judged if not o.answerable)
    measured = bool(judged)
    metrics["abstained"] = len(abstained) if measured else None
    metrics["false_abstentions"] = len(abstained) - correct if measured else None
    metrics["abstention_precision"] = _ratio(correct, len(abstained)) if measured else None
    metrics["abstention_recall"] = _ratio(correct, unanswerable) if measured else None
    latencies = [o.latency_ms for o in outcomes]
    metrics["latency_p50_ms"] = _ms(percentile(latencies, 50))
    metrics["latency_p95_ms"] = _ms(percentile(latencies, 95))
    return metrics


def _ordered(present: Iterable[str], order: Sequence[str]) -> list[str]:
    names = set(present)
    return [n for n in order if n in names] + sorted(names - set(order))


def summarize(outcomes: Sequence[Outcome]) -> Report:
    """Metrics nested by split then kind: {split: {"all": …, kind: …}}.

    Every split present gets an entry, and split "all" covers every question.
    """
    report: Report = {}
    splits = _ordered((o.split for o in outcomes if o.split and o.split != ALL), SPLIT_ORDER)
    for split in [*splits, ALL]:
        group = [o for o in outcomes if split == ALL or o.split == split]
        kinds = _ordered((o.kind for o in group if o.kind != ALL), KIND_ORDER)
        report[split] = {ALL: group_metrics(group)}
        for kind in kinds:
            report[split][kind] = group_metrics([o for o in group if o.kind == kind])
    return report
