"""Deduplication: one article per canonical URL, and one per exact text."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

from ingest.urls import canonical_url


def normalize_for_hash(text: str) -> str:
    """Whitespace-collapsed text: layout differences do not make a new article."""
    return " ".join(text.split())


def text_hash(text: str) -> str:
    return hashlib.sha1(normalize_for_hash(text).encode("utf-8")).hexdigest()


class Action(StrEnum):
    NEW = "new"  # a new article
    SAME = "same"  # this URL's article, unchanged: only record the URL as an alias
    UPDATE = "update"  # this URL's article with new text
    DUPLICATE = "duplicate"  # the same text as an article under another canonical URL


@dataclass(frozen=True)
class Decision:
    action: Action
    article_id: int | None = None


def decide(by_url: tuple[int, str] | None, by_hash: int | None, new_hash: str) -> Decision:
    """What to do with an extracted article.

    `by_url` is (id, text hash) of the article already stored under the same canonical URL
    (a GitHub blob page and its raw file share one), `by_hash` the id of an article with
    the same text under another URL. The first URL seen stays canonical.
    """
    if by_url is not None:
        article_id, old_hash = by_url
        return Decision(Action.SAME if old_hash == new_hash else Action.UPDATE, article_id)
    if by_hash is not None:
        return Decision(Action.DUPLICATE, by_hash)
    return Decision(Action.NEW)


def group_by_canonical(urls: list[str]) -> dict[str, list[str]]:
    """URLs grouped under their canonical URL, in first-seen order."""
    groups: dict[str, list[str]] = {}
    for url in urls:
        groups.setdefault(canonical_url(url), []).append(url)
    return groups
