"""Weighted reciprocal rank fusion and per-article collapsing; pure functions over row ids."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Hashable, Sequence

# A markdown link or a bare URL: the characters a navigation chunk is made of.
_LINK = re.compile(r"\[[^\]\n]*\]\([^)\s]*\)|https?://\S+")


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


def link_share(text: str) -> float:
    """The share of `text`'s characters inside markdown links and bare URLs (0..1)."""
    if not text:
        return 0.0
    return sum(len(m) for m in _LINK.findall(text)) / len(text)


def names_all(text: str, identifiers: Sequence[str]) -> bool:
    """Whether lowercased `text` contains every identifier as a whole word."""
    return all(
        re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text) is not None
        for name in identifiers
    )


def rescale(fused: dict[int, float], rows: Collection[int], factor: float) -> dict[int, float]:
    """`fused` with the scores of `rows` multiplied by `factor`; the others unchanged.

    Demotes navigation chunks (lists of links: their anchor texts name the topics of other
    articles and match queries well, but they answer nothing themselves), and promotes
    chunks that spell out every code identifier of the query.
    """
    if factor == 1.0 or not rows:
        return fused
    return {row: score * factor if row in rows else score for row, score in fused.items()}
