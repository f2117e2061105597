"""`linkrag eval`: read a QA file, run every question, and summarize the outcomes.

The metric math lives in `assistant.eval_metrics`; this module reads and checks QA files,
times the searches, asks the assistant whether it abstains, and resolves gold URLs
through the store's aliases. `benchmarks/` reuse `evaluate` so every figure comes from
the same code.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.assistant import Assistant
from assistant.eval_metrics import (
    KIND_ORDER,
    SPLIT_ORDER,
    Outcome,
    Report,
    article_ranking,
    first_gold_rank,
    summarize,
    url_key,
)
from index import Embedder, Hit, SearchIndex
from index.search import SEARCH_MODES, SearchMode
from ingest import ArticleStore

DEFAULT_K = 30  # chunks fetched per question: enough for 10 distinct articles
SearchFn = Callable[[str, int], list[Hit]]
ProgressFn = Callable[[int, int], None]


class QAFileError(ValueError):
    """A QA file that cannot be read, worded as one line naming the line and the fix."""

    cause = (
        "The `linkrag eval` QA file cannot be read, a line is not a valid JSON question, "
        "an id repeats, or the split has no questions."
    )
    fix = (
        "Fix the line the message names: one JSON object per line with `question`, "
        "`gold_urls`, `kind` and `split`."
    )


@dataclass(frozen=True)
class QAItem:
    """One question with the article URLs that answer it (empty: unanswerable)."""

    question: str
    gold_urls: tuple[str, ...]
    kind: str = ""
    split: str = ""
    id: str = ""
    line: int = 0

    @property
    def answerable(self) -> bool:
        return bool(self.gold_urls)


def _check_row(row: object) -> QAItem:
    """The item of one parsed line; ValueError with the problem otherwise."""
    if not isinstance(row, dict):
        raise ValueError("expected a JSON object")
    question = row.get("question")
    if not isinstance(question, str) or not question.strip():
        raise ValueError("'question' must be a non-empty string")
    gold = row.get("gold_urls", [])
    if not isinstance(gold, list) or not all(isinstance(u, str) for u in gold):
        raise ValueError("'gold_urls' must be a list of URL strings")
    for url in gold:
        if "://" not in url or any(c.isspace() for c in url.strip()):
            raise ValueError(f"gold URL {url!r} is not a URL")
    kind = row.get("kind", "unanswerable" if not gold else "answerable")
    if "kind" in row and kind not in KIND_ORDER:
        raise ValueError(f"'kind' is {kind!r}; use one of {', '.join(KIND_ORDER)}")
    if (kind == "unanswerable") != (not gold):
        raise ValueError("'gold_urls' must be empty exactly when 'kind' is 'unanswerable'")
    split = row.get("split", "")
    if split and split not in SPLIT_ORDER:
        raise ValueError(f"'split' is {split!r}; use one of {', '.join(SPLIT_ORDER)}")
    ident = row.get("id", "")
    if not isinstance(ident, str | int):
        raise ValueError("'id' must be a string")
    return QAItem(question.strip(), tuple(gold), str(kind), str(split), str(ident))


def load_qa(path: Path) -> list[QAItem]:
    """Parse and check a JSONL file of {"id", "question", "gold_urls", "kind", "split"}.

    Raises QAFileError naming the first bad line and its problem.
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise QAFileError(f"cannot read QA file {path}: {reason}") from exc
    items: list[QAItem] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = _check_row(json.loads(line))
        except json.JSONDecodeError as exc:
            raise QAFileError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
        except ValueError as exc:
            raise QAFileError(f"{path}:{number}: {exc}") from exc
        if item.id and item.id in seen:
            raise QAFileError(f"{path}:{number}: duplicate id {item.id!r} (line {seen[item.id]})")
        seen[item.id] = number
        items.append(QAItem(item.question, item.gold_urls, item.kind, item.split, item.id, number))
    if not items:
        raise QAFileError(f"{path}: no questions in the QA file")
    return items


def select_split(items: Sequence[QAItem], split: str) -> list[QAItem]:
    """The items of one split ("all" keeps every item); QAFileError when none is left."""
    chosen = [item for item in items if split == "all" or item.split == split]
    if not chosen:
        raise QAFileError(f"no questions in split {split!r} of the QA file")
    return chosen


class GoldResolver:
    """Maps gold URLs to the URL keys of the store's articles, through their aliases."""

    def __init__(self, keys: dict[str, str] | None = None) -> None:
        self._keys = keys  # alias or canonical key → article key; None: no store

    @classmethod
    def from_store(cls, data_dir: Path) -> GoldResolver:
        if not (Path(data_dir) / "linkrag.sqlite").exists():
            return cls()
        keys: dict[str, str] = {}
        with ArticleStore.open(Path(data_dir)) as store:
            for article in store.iter_articles():
                main = url_key(article.url)
                for url in article.aliases:
                    keys.setdefault(url_key(url), main)
                keys[main] = main
        return cls(keys)

    def __call__(self, url: str) -> str:
        key = url_key(url)
        return key if self._keys is None else self._keys.get(key, key)

    def unknown(self, items: Sequence[QAItem]) -> list[str]:
        """Gold URLs that are no article of the store (always a miss: fix the QA file)."""
        if self._keys is None:
            return []
        urls = {url for item in items for url in item.gold_urls}
        return sorted(url for url in urls if url_key(url) not in self._keys)


def evaluate(
    items: Sequence[QAItem],
    search: SearchFn,
    *,
    k: int = DEFAULT_K,
    abstains: Callable[[str], bool] | None = None,
    resolve: Callable[[str], str] = url_key,
    progress: ProgressFn | None = None,
) -> Report:
    """Run every question through `search` (timed) and `abstains`; metrics by split, kind.

    A few searches run first, untimed, so model loading and warm-up do not count as
    query latency.
    """
    for item in items[:3]:
        search(item.question, k)
    outcomes: list[Outcome] = []
    for done, item in enumerate(items, 1):
        started = time.perf_counter()
        hits = search(item.question, k)
        latency_ms = (time.perf_counter() - started) * 1000
        gold = {resolve(url) for url in item.gold_urls}
        rank = first_gold_rank(article_ranking(h.chunk.url for h in hits), gold) if gold else None
        abstained = abstains(item.question) if abstains is not None else None
        outcome = Outcome(item.kind, item.split, item.answerable, rank, abstained, latency_ms)
        outcomes.append(outcome)
        if progress is not None:
            progress(done, len(items))
    return summarize(outcomes)


class ModeSearcher:
    """A Searcher answering with one retrieval mode of a SearchIndex (for `--mode`)."""

    def __init__(self, index: SearchIndex, mode: SearchMode) -> None:
        self._index = index
        self.mode: SearchMode = mode

    @property
    def embedder(self) -> Embedder:
        return self._index.embedder

    def search(
        self, query: str, k: int = 8, *, section: str | None = None, site: str | None = None
    ) -> list[Hit]:
        return self._index.search(query, k, mode=self.mode, section=section, site=site)

    def embed_query(self, text: str) -> np.ndarray:
        return self._index.embed_query(text)


def check_mode(mode: str) -> SearchMode:
    if mode not in SEARCH_MODES:
        raise ValueError(f"unknown search mode {mode!r}: use one of {', '.join(SEARCH_MODES)}")
    return mode  # type: ignore[return-value]  # checked against the Literal's values


def evaluate_assistant(
    assistant: Assistant,
    items: Sequence[QAItem],
    *,
    mode: str = "hybrid",
    k: int = DEFAULT_K,
    abstention: bool = True,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """`linkrag eval` as a dict: settings, unknown gold URLs and metrics by split and kind.

    Search and abstention both use `mode`: a dense- or lexical-only run answers from
    that retriever's hits alone.
    """
    searcher = assistant.index
    runner = assistant
    if mode != "hybrid":
        if not isinstance(searcher, SearchIndex):
            raise ValueError("--mode needs a loaded SearchIndex")
        searcher = ModeSearcher(searcher, check_mode(mode))
        runner = Assistant(assistant.config, index=searcher)
    resolver = GoldResolver.from_store(assistant.data_dir)

    def abstains(question: str) -> bool:
        return runner.ask(question).abstained

    metrics = evaluate(
        items,
        lambda q, n: searcher.search(q, k=n),
        k=k,
        abstains=abstains if abstention else None,
        resolve=resolver,
        progress=progress,
    )
    return {
        "mode": mode,
        "k": k,
        "index_version": getattr(searcher, "version", None)
        or getattr(assistant.index, "version", None),
        "unknown_gold_urls": resolver.unknown(items),
        "metrics": metrics,
    }
