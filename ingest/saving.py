"""One article at a time into the store: ledger row, dedup decision and article, together."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from datasketch import MinHash

from ingest.dedup import (
    NEAR_MIN_CHARS,
    Action,
    NearDuplicates,
    decide,
    minhash,
    normalize_for_hash,
    text_hash,
    to_bytes,
)
from ingest.extract import Extracted, Skip
from ingest.ledger import ARTICLE, DUPLICATE, NEAR_DUPLICATE, SKIPPED, Entry
from ingest.store import ArticleStore
from ingest.types import Article, FetchResult

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    links: int = 0  # links found in reading lists and URL lists
    fetched: int = 0  # responses obtained (live, replayed or read from a WARC/folder)
    failed: int = 0  # fetches that failed (recorded per URL in the store)
    articles_new: int = 0
    articles_updated: int = 0
    duplicates: int = 0  # exact-text duplicates merged into an earlier article
    skipped: int = 0  # responses that are not articles (listings, too short, ...)
    seconds: float = 0.0
    unchanged: int = 0  # URLs not refetched (or not re-extracted) because nothing changed
    skip_kinds: dict[str, int] = field(default_factory=dict)  # skipped, by reason kind
    errors: list[str] = field(default_factory=list)  # sources that could not be read at all
    near_duplicates: int = 0  # near-same texts (MinHash) merged into an earlier article
    extracted: int = 0  # pages run through extraction (a rerun with nothing new: 0)
    revalidated: int = 0  # old URLs checked again by --refresh
    not_modified: int = 0  # of those: 304, or the same body as before (not re-extracted)
    stale_links: int = 0  # links newly missing from their list
    stale_articles: int = 0  # articles only stale links point at (kept, not indexed)
    warnings: list[str] = field(default_factory=list)  # partly readable sources, empty lists
    interrupted: bool = False  # stopped by SIGINT/SIGTERM; a rerun continues
    stopped_by: int = 0  # the signal number that stopped it (0: none, or the stop event)


class Saver:
    """Writes extraction outcomes; exact and near duplicates join the first article seen."""

    def __init__(self, store: ArticleStore, report: IngestReport, threshold: float) -> None:
        self.store, self.report = store, report
        self.skips: Counter[str] = Counter()
        self._near = NearDuplicates(threshold)
        self._loaded = False

    def failed(self, result: FetchResult, key: str) -> None:
        self.store.record_fetch(result, key)
        self.report.failed += 1
        log.info("fetch failed (%s): %s", result.error_kind, result.error)

    def save(
        self,
        result: FetchResult,
        outcome: Extracted | Skip,
        key: str,
        aliases: list[str],
        topic: str,
        sketch: MinHash | None = None,
    ) -> None:
        """Record `result` under `key` and store what extraction made of it, atomically.

        `sketch`: the MinHash of the extracted text, when a Ray task already computed it."""
        self.report.fetched += 1
        if isinstance(outcome, Skip):
            self.report.skipped += 1
            self.skips[outcome.kind] += 1
            log.debug("not an article (%s): %s", outcome.kind, outcome.reason)
            self.store.record_fetch(result, key, Entry(SKIPPED, outcome.kind, outcome.reason))
            return
        article = Article(
            url=key,
            title=outcome.title,
            text=outcome.text,
            text_hash=text_hash(outcome.text),
            author=outcome.author,
            date=outcome.date,
            language=outcome.language,
            topic=topic,
            aliases=[a for a in dict.fromkeys(aliases) if a],
        )
        new = None
        with self.store.transaction():
            kind, new = self._store(article, sketch)
            entry = Entry(kind, extract_chars=len(article.text))
            self.store.record_fetch(result, key, entry)
        if new is not None:  # only once committed: a rollback must not leave it indexed
            self._near.add(*new)

    def _store(
        self, article: Article, sketch: MinHash | None
    ) -> tuple[str, tuple[int, MinHash] | None]:
        """Add, update or merge `article`; the ledger outcome and a new (id, MinHash)."""
        decision = decide(
            self.store.find_by_url(article.url),
            self.store.find_by_hash(article.text_hash),
            article.text_hash,
        )
        if decision.action is Action.SAME and decision.article_id is not None:
            self.store.add_aliases(article.aliases, decision.article_id)
            return ARTICLE, None
        if decision.action is Action.DUPLICATE:
            self.store.add_article(article, duplicate_of=decision.article_id)
            self.report.duplicates += 1
            return DUPLICATE, None
        sketch = sketch if sketch is not None else minhash(article.text)
        if decision.action is Action.UPDATE and decision.article_id is not None:
            self.store.update_article(decision.article_id, article)
            self.store.save_signature(decision.article_id, to_bytes(sketch))
            self.report.articles_updated += 1
            return ARTICLE, (decision.article_id, sketch)
        long_enough = len(normalize_for_hash(article.text)) >= NEAR_MIN_CHARS
        near = self._similar(sketch) if long_enough else None
        if near is not None:
            self.store.add_article(article, duplicate_of=near[0])
            self.report.near_duplicates += 1
            log.info("%s is a near duplicate (%.2f) of article %d", article.url, near[1], near[0])
            return NEAR_DUPLICATE, None
        article_id = self.store.add_article(article)
        self.store.save_signature(article_id, to_bytes(sketch))
        self.report.articles_new += 1
        return ARTICLE, (article_id, sketch)

    def _similar(self, sketch: MinHash) -> tuple[int, float] | None:
        if not self._loaded:  # first new article of the run: read the stored signatures
            self._backfill()
            self._near.load(self.store.signatures())
            self._loaded = True
        return self._near.find(sketch)

    def _backfill(self) -> None:
        """Signatures of articles stored before signatures were kept (schema version 1)."""
        for article_id, text in self.store.unsigned_articles():
            self.store.save_signature(article_id, to_bytes(minhash(text)))
