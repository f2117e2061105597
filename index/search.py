"""Hybrid search over one loaded index version: FAISS + BM25, fused by weighted RRF."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from index.dense import DenseIndex, chunk_key
from index.embedders import Embedder, get_embedder
from index.hybrid import collapse, ranked, rrf
from index.lexical import LexicalIndex, tokenize
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
    ) -> None:
        self.version = version
        self.meta = meta
        self.embedder = embedder
        self.settings = settings
        self._chunks = chunks
        self._dense = dense
        self._lexical = lexical
        self._keys = [chunk_key(chunk.chunk_id) for chunk in chunks]
        self._row_of = {key: row for row, key in enumerate(self._keys)}

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
        )

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

    def _dense_rows(self, vector: np.ndarray, pool: int) -> list[tuple[int, float]]:
        row_of = self._row_of
        return [(row_of[key], s) for key, s in self._dense.search(vector, pool) if key in row_of]

    def search(self, query: str, k: int = 8, *, mode: SearchMode = "hybrid") -> list[Hit]:
        """The k best chunks, at most `per_article` per article, ranked 1..k.

        `mode` "dense" or "lexical" ranks by one retriever alone (for evaluation); hits
        still carry their cosine similarity, which abstention needs.
        """
        if mode not in SEARCH_MODES:
            raise ValueError(f"unknown search mode {mode!r}: use one of {', '.join(SEARCH_MODES)}")
        if not query.strip() or k <= 0:
            return []
        s = self.settings
        pool = max(s.candidates, k)
        vector = self.embed_query(query)
        dense = self._dense_rows(vector, pool) if mode != "lexical" else []
        lexical = self._lexical.search(tokenize(query), pool) if mode != "dense" else []
        hybrid = mode == "hybrid"
        fused = rrf(
            [
                (s.dense_weight if hybrid else 1.0, [row for row, _ in dense]),
                (s.lexical_weight if hybrid else 1.0, [row for row, _ in lexical]),
            ],
            s.rrf_k,
        )
        rows = collapse(ranked(fused), lambda row: self._chunks[row].article_id, s.per_article, k)
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
