"""Hybrid search over one loaded index version: FAISS + BM25, fused by weighted RRF."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from index.adapter import QueryAdapter
from index.chunking import embed_text
from index.dense import DenseIndex, chunk_key
from index.embedders import Embedder, get_embedder, normalize
from index.filters import ChunkFilter
from index.hybrid import collapse, link_share, names_all, ranked, rescale, rrf
from index.lexical import LexicalIndex, query_tokens
from index.query import Glossary, QueryPlan, analyze
from index.rerank import CrossEncoderReranker
from index.settings import IndexSettings
from index.store import (
    DENSE_FILE,
    LEXICAL_DIR,
    IndexLoadError,
    IndexMismatchError,
    check_meta,
    current_folder,
    read_chunks,
    read_meta,
)
from index.types import Chunk, Hit

log = logging.getLogger(__name__)

SearchMode = Literal["hybrid", "dense", "lexical"]
SEARCH_MODES: tuple[str, ...] = get_args(SearchMode)


class SearchIndex:
    """A loaded, immutable index version; `search` is safe to call from many threads."""

    def __init__(
        self,
        *,
        version: str,
        meta: dict[str, Any],
        chunks: list[Chunk],
        dense: DenseIndex,
        lexical: LexicalIndex,
        embedder: Embedder,
        settings: IndexSettings,
        adapter: QueryAdapter | None = None,
    ) -> None:
        self.version = version
        self.adapter = adapter
        self.meta = meta
        self.embedder = embedder
        self.settings = settings
        self._chunks = chunks
        self._corpus: str | None = None
        self._rows_of_article: dict[int, list[int]] | None = None
        self._dense = dense
        self._lexical = lexical
        self._keys = [chunk_key(chunk.chunk_id) for chunk in chunks]
        self._row_of = {key: row for row, key in enumerate(self._keys)}
        self._filter = ChunkFilter(chunks)
        self._navigation = frozenset(
            row
            for row, chunk in enumerate(chunks)
            if link_share(chunk.text) > settings.navigation_share
        )
        self.glossary = _glossary(settings.glossary)
        self.reranker = (
            CrossEncoderReranker(settings.reranker, threads=settings.threads)
            if settings.reranker
            else None
        )

    @classmethod
    def load(
        cls, data_dir: Path, settings: IndexSettings, *, embedder: Embedder | None = None
    ) -> SearchIndex:
        """Load the live version; IndexNotFoundError / IndexMismatchError say what to run."""
        folder = current_folder(Path(data_dir))
        meta = read_meta(folder)
        embedder = embedder or get_embedder(settings)
        check_meta(meta, settings, embedder.id)
        try:
            chunks = list(read_chunks(folder))
            dense = DenseIndex.load(folder / DENSE_FILE, settings)
            lexical = LexicalIndex.load(folder / LEXICAL_DIR, mmap=settings.bm25_mmap)
            adapter = QueryAdapter.load(folder, int(meta.get("dim", 0)))
        except (OSError, ValueError, TypeError, RuntimeError) as exc:
            raise IndexLoadError(f"damaged index in {folder} ({exc}): run `linkrag index`") from exc
        if dense.size != len(chunks) or dense.dim != meta.get("dim"):
            raise IndexLoadError(
                f"damaged index in {folder}: {dense.size} vectors of dim {dense.dim} for "
                f"{len(chunks)} chunks of dim {meta.get('dim')}: run `linkrag index`"
            )
        log.info("loaded index %s (%d chunks)", folder.name, len(chunks))
        return cls(
            version=folder.name,
            meta=meta,
            chunks=chunks,
            dense=dense,
            lexical=lexical,
            embedder=embedder,
            settings=settings,
            adapter=adapter,
        )

    def corpus_text(self) -> str:
        """Every chunk's address words, title, heading and text, lowercased: "does the
        corpus name X?"."""
        if self._corpus is None:  # a benign race: two threads build the same string
            self._corpus = "\n".join(map(embed_text, self._chunks)).lower()
        return self._corpus

    def article_text(self, article_id: int) -> str:
        """One article's chunks as embedded (address words, title, headings, text),
        lowercased: "does it name X?". The address counts: an article filed under
        `megatron-deepspeed/microsoft/` is about Microsoft's fork even if its text never says so."""
        if self._rows_of_article is None:  # a benign race, as for corpus_text
            rows: dict[int, list[int]] = {}
            for row, chunk in enumerate(self._chunks):
                rows.setdefault(chunk.article_id, []).append(row)
            self._rows_of_article = rows
        chunks = (self._chunks[row] for row in self._rows_of_article.get(article_id, []))
        return "\n".join(map(embed_text, chunks)).lower()

    @property
    def chunk_count(self) -> int:
        return len(self._chunks)

    def embed_query(self, text: str) -> np.ndarray:
        """The query's unit vector in this index's space."""
        vector: np.ndarray = self.embedder.embed_batch([text], query=True)[0]
        if vector.shape[0] != self._dense.dim:
            raise IndexMismatchError(
                f"embedder {self.embedder.id} gives {vector.shape[0]}-d vectors but the index "
                f"holds {self._dense.dim}-d ones: run `linkrag index` to rebuild"
            )
        return vector

    def _dense_rows(
        self, vector: np.ndarray, pool: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Dense (row, cosine) pairs: FAISS speaks chunk keys, the rest of search rows."""
        among = None if allowed is None else np.asarray([self._keys[r] for r in allowed])
        row_of = self._row_of
        found = self._dense.search(vector, pool, among)
        return [(row_of[key], score) for key, score in found if key in row_of]

    def analyze(self, query: str) -> QueryPlan:
        """Language, small talk and glossary expansions of a query, as search sees them."""
        return analyze(query, self.glossary, translate=self.settings.dense_expansion)

    def search(
        self,
        query: str,
        k: int = 8,
        *,
        mode: SearchMode = "hybrid",
        section: str | None = None,
        site: str | None = None,
    ) -> list[Hit]:
        """The k best chunks, at most `per_article` per article, ranked 1..k.

        Small talk ("hi", "谢谢") returns no hits. `section` keeps chunks whose
        reading-list heading path contains it, and `site` those of one host and its
        subdomains; both filter before ranking, so k hits come back when k match.
        `mode` "dense" or "lexical" ranks by one retriever alone (for evaluation); hits
        still carry their cosine similarity, which abstention needs.
        """
        if mode not in SEARCH_MODES:
            raise ValueError(f"unknown search mode {mode!r}: use one of {', '.join(SEARCH_MODES)}")
        plan = self.analyze(query)
        allowed = self._filter.rows(section, site)
        if not query.strip() or k <= 0 or plan.small_talk:
            return []
        if allowed is not None and not len(allowed):
            return []
        pool = max(self.settings.candidates, k)
        vector = self._query_vector(plan)
        ranking = self.adapter.apply(vector) if self.adapter is not None else vector
        dense = self._dense_rows(ranking, pool, allowed) if mode != "lexical" else []
        lexical = []
        if mode != "dense":
            lexical = self._lexical.search(query_tokens(plan.lexical_text), pool, allowed)
        weights = self._weights(plan) if mode == "hybrid" else (1.0, 1.0)
        rankings = [[row for row, _ in dense], [row for row, _ in lexical]]
        fused = rrf(list(zip(weights, rankings, strict=True)), self.settings.rrf_k)
        if mode == "hybrid":  # the single-retriever modes stay pure, for comparison
            fused = self._adjust(fused, plan)
        order = ranked(fused)
        if self.reranker is not None and mode == "hybrid":
            order, fused = self._rerank(plan.text, order, fused)
        rows = collapse(
            order, lambda row: self._chunks[row].article_id, self.settings.per_article, k
        )
        # Hits report the raw cosine: abstention thresholds are calibrated on it.
        raw = dense if self.adapter is None else []
        return self._hits(rows, fused, raw, lexical, vector)

    def _adjust(self, fused: dict[int, float], plan: QueryPlan) -> dict[int, float]:
        """Navigation chunks demoted; chunks naming every code identifier promoted."""
        s = self.settings
        fused = rescale(fused, self._navigation, s.navigation_penalty)
        if not plan.identifiers or s.identifier_boost == 1.0:
            return fused
        naming = [row for row in fused if names_all(self._text_of(row), plan.identifiers)]
        return rescale(fused, naming, s.identifier_boost)

    def _text_of(self, row: int) -> str:
        chunk = self._chunks[row]
        return f"{chunk.title}\n{chunk.heading}\n{chunk.text}".lower()

    def _query_vector(self, plan: QueryPlan) -> np.ndarray:
        """The query's vector; with dense expansion, averaged with its translation's."""
        vector = self.embed_query(plan.text)
        if not plan.translation:
            return vector
        translated = self.embed_query(plan.translation)
        averaged: np.ndarray = normalize(vector + translated)[0]
        return averaged

    def _weights(self, plan: QueryPlan) -> tuple[float, float]:
        s = self.settings
        if plan.language == "en":
            return s.en_dense_weight, s.en_lexical_weight
        return s.dense_weight, s.lexical_weight

    def _rerank(
        self, query: str, order: list[int], fused: dict[int, float]
    ) -> tuple[list[int], dict[int, float]]:
        """The top `rerank_top` rows in the cross-encoder's order, the rest after them.

        Reranked rows score by the cross-encoder, so hit scores still fall with rank.
        """
        assert self.reranker is not None
        top = order[: self.settings.rerank_top]
        scores = self.reranker.scores(query, [embed_text(self._chunks[row]) for row in top])
        by_row = dict(zip(top, scores, strict=True))
        reordered = sorted(top, key=lambda row: (-by_row[row], row))
        floor = min(scores, default=0.0)
        rest = order[len(top) :]
        # Rows past the reranked window keep their order, below every reranked score.
        rescored = {row: floor - 1.0 - i for i, row in enumerate(rest)}
        return reordered + rest, {**fused, **rescored, **by_row}

    def _hits(
        self,
        rows: list[int],
        fused: dict[int, float],
        dense: list[tuple[int, float]],
        lexical: list[tuple[int, float]],
        vector: np.ndarray,
    ) -> list[Hit]:
        sims = dict(dense)
        # Rows found only by BM25 still get their cosine similarity: abstention needs it.
        unseen = [row for row in rows if row not in sims]
        if unseen:
            found = self._dense.similarity(vector, [self._keys[row] for row in unseen])
            sims.update(zip(unseen, found, strict=True))
        scores = dict(lexical)
        return [
            Hit(self._chunks[row], fused[row], rank, sims[row], scores.get(row, 0.0))
            for rank, row in enumerate(rows, 1)
        ]


def _glossary(setting: str) -> Glossary | None:
    """The glossary the `index.glossary` setting names; None turns expansion off."""
    if not setting.strip():
        return None
    return Glossary.load(None if setting == "bundled" else Path(setting))
