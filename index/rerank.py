"""Optional cross-encoder reranking of the fused candidates (sentence-transformers)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any


class CrossEncoderReranker:
    """Scores (query, passage) pairs with a sentence-transformers CrossEncoder.

    The model loads on the first call, so configuring a reranker costs nothing until a
    search runs; a lock guards the load and keeps torch calls one at a time.
    """

    def __init__(self, name: str, *, threads: int = 2, batch_size: int = 32) -> None:
        self.name = name
        self.threads = threads
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    def scores(self, query: str, passages: Sequence[str]) -> list[float]:
        """One relevance score per passage (higher is better), in the given order."""
        if not passages:
            return []
        with self._lock:
            model = self._load()
            raw = model.predict(
                [(query, text) for text in passages],
                batch_size=self.batch_size,
                show_progress_bar=False,
                convert_to_numpy=True,
            )
        return [float(s) for s in raw.reshape(len(passages), -1)[:, -1]]

    def _load(self) -> Any:
        if self._model is None:
            from sentence_transformers import CrossEncoder

            from .embedders import load_st_model

            self._model = load_st_model(
                CrossEncoder, self.name, threads=self.threads, setting="index.reranker"
            )
        return self._model
