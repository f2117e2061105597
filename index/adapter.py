"""A query-side linear adapter for the dense retriever, learnt from the corpus itself.

USE is a general-purpose encoder: it ranks this corpus's passages by broad topic, and a
paraphrased question often lands on a neighbour of its article. The adapter is a d x d
matrix A applied to query vectors (unit(A q)); passages keep their vectors, so the FAISS
index is untouched. It is fitted at build time with the inverse cloze task: one sentence
of each passage is the query, and the passage must win a softmax over the other passages.
No labels are needed, and nothing from the eval set is seen.

On the dev set it lifted dense-only recall@1 from 0.617 to 0.700 on tune, and hybrid
MRR@10 over all 120 answerable questions from 0.871 to 0.885 (README, "Query adapter").
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index.cache import CachedEmbedding
from index.settings import IndexSettings
from index.types import Chunk, ProgressFn

log = logging.getLogger(__name__)

ADAPTER_FILE = "adapter.npy"
_PROBE_MIN_CHARS = 40  # shorter sentences are merged with the next: alone they say little
_SPLIT = re.compile(r"(?<=[。！？；!?])|(?<=\.)\s|\n")
_BATCH = 512
_TEMPERATURE = 0.05
_LEARNING_RATE = 1e-3
_PULL_TO_IDENTITY = 1e-3  # keeps A near the identity: USE's space stays mostly as it is
_SEED = 0


def build_adapter(
    chunks: list[Chunk],
    settings: IndexSettings,
    embed: CachedEmbedding,
    notify: ProgressFn,
    previous: tuple[QueryAdapter | None, int] = (None, 0),
) -> QueryAdapter | None:
    """The query adapter for these chunks, probes embedded through the cache; None when
    `index.adapter` is off or fewer than `adapter_min_passages` passages have a probe.

    `previous` is the live version's adapter and how many passages were added or removed
    since: under `adapter_refit` of the corpus it is kept, so a small update stays fast.
    """
    if not settings.adapter:
        return None
    adapter, changed = previous
    if adapter is not None and changed <= settings.adapter_refit * len(chunks):
        return adapter
    pairs = training_pairs(chunks, settings.adapter_pairs)
    if len(pairs) < settings.adapter_min_passages:
        return None
    queries = embed.texts([text for _, text in pairs], "probe")
    passages = embed([chunks[row] for row, _ in pairs])
    notify("adapt", 0, 1)
    adapter = QueryAdapter(fit_adapter(queries, passages, settings.adapter_epochs))
    notify("adapt", 1, 1)
    log.info("query adapter fitted on %d passages", len(pairs))
    return adapter


def probe(chunk: Chunk) -> str | None:
    """One sentence-sized piece of the passage, picked by its chunk id (None if too short).

    The pick depends only on the chunk, so a full and an incremental build train on the
    same pairs and give the same adapter.
    """
    pieces: list[str] = []
    buffer = ""
    for part in _SPLIT.split(chunk.text):
        if part.strip():
            buffer = f"{buffer} {part.strip()}".strip()
        if len(buffer) >= _PROBE_MIN_CHARS:
            pieces.append(buffer)
            buffer = ""
    if buffer and pieces:
        pieces[-1] = f"{pieces[-1]} {buffer}"
    if not pieces:
        return None
    return pieces[_stable(chunk.chunk_id) % len(pieces)]


def training_pairs(chunks: Sequence[Chunk], limit: int) -> list[tuple[int, str]]:
    """(row, probe) pairs that train the adapter, in chunk id order: every chunk with a
    probe, or `limit` of them picked by chunk id, so incremental builds pick the same."""
    pairs: list[tuple[int, str]] = []
    for row in sorted(range(len(chunks)), key=lambda row: _stable(chunks[row].chunk_id)):
        text = probe(chunks[row])
        if text is not None:
            pairs.append((row, text))
            if len(pairs) >= limit:
                break
    return sorted(pairs, key=lambda pair: chunks[pair[0]].chunk_id)


def fit_adapter(queries: np.ndarray, passages: np.ndarray, epochs: int) -> np.ndarray:
    """A (d x d) such that unit(A @ queries[i]) ranks passages[i] first among `passages`.

    Softmax cross-entropy over every passage given (at most `adapter_pairs`), Adam from the
    identity, gradients written out in numpy: torch would add 2.5 s of import and ~450 MB
    to every build for one matrix. Deterministic for the same inputs.
    """
    q_all = np.ascontiguousarray(queries, dtype=np.float32)
    p_all = np.ascontiguousarray(passages, dtype=np.float32)
    eye = np.eye(q_all.shape[1], dtype=np.float32)
    matrix, adam = eye.copy(), _Adam(eye.shape)
    shuffle = np.random.default_rng(_SEED)
    for _ in range(epochs):
        order = shuffle.permutation(len(q_all))
        for start in range(0, len(order), _BATCH):
            rows = order[start : start + _BATCH]
            gradient = _gradient(matrix, q_all[rows], p_all, rows)
            matrix -= adam.step(gradient + 2 * _PULL_TO_IDENTITY * (matrix - eye))
    return matrix


def _gradient(matrix: np.ndarray, q: np.ndarray, p: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """d(mean cross-entropy of softmax(unit(q A^T) p^T / T) against `targets`) / dA."""
    z = q @ matrix.T
    norms = np.linalg.norm(z, axis=1, keepdims=True)
    u = z / norms
    logits = u @ p.T / _TEMPERATURE
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    probs[np.arange(len(targets)), targets] -= 1.0
    d_u = (probs / len(targets)) @ p / _TEMPERATURE
    d_z = (d_u - u * np.sum(u * d_u, axis=1, keepdims=True)) / norms
    gradient: np.ndarray = d_z.T @ q
    return gradient


class _Adam:
    """Adam (Kingma & Ba) for one parameter array: returns the step to subtract."""

    def __init__(self, shape: tuple[int, ...], beta1: float = 0.9, beta2: float = 0.999) -> None:
        self.m: np.ndarray = np.zeros(shape, np.float32)
        self.v: np.ndarray = np.zeros(shape, np.float32)
        self.beta1, self.beta2, self.t = beta1, beta2, 0

    def step(self, gradient: np.ndarray) -> np.ndarray:
        self.t += 1
        self.m = self.beta1 * self.m + (1 - self.beta1) * gradient
        self.v = self.beta2 * self.v + (1 - self.beta2) * gradient**2
        m_hat = self.m / (1 - self.beta1**self.t)
        v_hat = self.v / (1 - self.beta2**self.t)
        update: np.ndarray = (_LEARNING_RATE * m_hat / (np.sqrt(v_hat) + 1e-8)).astype(np.float32)
        return update


class QueryAdapter:
    """unit(A q) for query vectors; identity when the index has no adapter."""

    def __init__(self, matrix: np.ndarray) -> None:
        self.matrix = np.asarray(matrix, dtype=np.float32)

    @classmethod
    def load(cls, folder: Path, dim: int) -> QueryAdapter | None:
        """The version's adapter, None if it has none; ValueError if it is not dim x dim."""
        path = folder / ADAPTER_FILE
        if not path.exists():
            return None
        matrix = np.load(path)
        if matrix.shape != (dim, dim):
            raise ValueError(f"{ADAPTER_FILE} holds a {matrix.shape} array, not {dim} x {dim}")
        return cls(matrix)

    def save(self, folder: Path) -> None:
        np.save(folder / ADAPTER_FILE, self.matrix)

    def apply(self, vector: np.ndarray) -> np.ndarray:
        adapted = self.matrix @ np.asarray(vector, dtype=np.float32)
        norm = float(np.linalg.norm(adapted))
        return adapted / norm if norm > 0 else adapted


def _stable(text: str) -> int:
    """A hash that is the same in every process (Python's hash() is salted)."""
    return int.from_bytes(hashlib.sha1(text.encode("utf-8")).digest()[:8], "big")
