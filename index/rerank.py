"""Optional cross-encoder reranking of the fused candidates (sentence-transformers)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


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
            path = Path(self.name).expanduser()
            if (path.is_absolute() or self.name.startswith((".", "~"))) and not path.exists():
                raise OSError(
                    f"cannot load reranker {self.name!r}: no such folder. Fix the local path "
                    "in index.reranker, or set it to '' to turn reranking off."
                )
            import torch
            from sentence_transformers import CrossEncoder

            log.info("loading cross-encoder %s", self.name)
            torch.set_num_threads(self.threads)
            try:
                self._model = CrossEncoder(self.name, device="cpu")
            except (OSError, ValueError) as exc:
                raise OSError(
                    f"cannot load reranker {self.name!r}: {exc}. Check index.reranker "
                    "(offline machines need a local copy)."
                ) from exc
        return self._model
