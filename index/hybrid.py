"""Weighted reciprocal rank fusion and per-article collapsing; pure functions over row ids."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence


def rrf(rankings: Sequence[tuple[float, Sequence[int]]], k: int) -> dict[int, float]:
    """Fuse rankings (weight, ids best first): score = Σ weight / (k + rank), ranks from 1.

    RRF needs no score calibration between BM25 and cosine, which live on unrelated scales.
    """
    fused: dict[int, float] = {}
    for weight, ids in rankings:
        for rank, row in enumerate(ids, 1):
            fused[row] = fused.get(row, 0.0) + weight / (k + rank)
    return fused


def ranked(fused: dict[int, float]) -> list[int]:
    """Rows by fused score, best first; ties broken by row id so results are deterministic."""
    return sorted(fused, key=lambda row: (-fused[row], row))


def collapse(
    order: Sequence[int], group_of: Callable[[int], Hashable], per_group: int, limit: int
) -> list[int]:
    """The first `limit` rows of `order`, keeping at most `per_group` rows of any group."""
    taken: dict[Hashable, int] = {}
    picked: list[int] = []
    for row in order:
        group = group_of(row)
        if taken.get(group, 0) >= per_group:
            continue
        taken[group] = taken.get(group, 0) + 1
        picked.append(row)
        if len(picked) >= limit:
            break
    return picked
