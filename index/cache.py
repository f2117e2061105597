"""Embedding cache in SQLite, keyed by (embedder id, sha1 of the embedded text), and the
cache-first embedding loop builds use."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np

from index.chunking import embed_text
from index.embedders import Embedder
from index.types import Chunk, IndexBuildError, ProgressFn

_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    embedder TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (embedder, text_hash)
) WITHOUT ROWID
"""
CACHE_FILE = "embeddings.sqlite"
_BATCH = 500  # stays well under SQLite's bound-parameter limit


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Vectors already computed, so a rebuild embeds only new or changed chunks."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        self._db.commit()

    def get_many(self, embedder_id: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Cached vectors for the given text hashes (missing ones are simply absent)."""
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(hashes))
        for i in range(0, len(unique), _BATCH):
            batch = unique[i : i + _BATCH]
            marks = ",".join("?" * len(batch))
            rows = self._db.execute(
                "SELECT text_hash, vector FROM embeddings"
                f" WHERE embedder = ? AND text_hash IN ({marks})",
                [embedder_id, *batch],
            )
            for key, blob in rows:
                found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, embedder_id: str, items: Iterable[tuple[str, np.ndarray]]) -> None:
        """Store vectors; committed at once so a crashed build keeps what it paid for."""
        rows = [
            (embedder_id, key, np.asarray(vec, dtype=np.float32).tobytes()) for key, vec in items
        ]
        self._db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)", rows)
        self._db.commit()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# Embeds cache misses given as (text hashes, texts), yielding (hashes, vectors) per batch
# as they finish; the caller writes each batch to the cache at once.
MissRunner = Callable[[list[str], list[str]], Iterator[tuple[list[str], np.ndarray]]]


def local_runner(embedder: Embedder, batch_size: int) -> MissRunner:
    """Embeds misses in this process, `batch_size` texts at a time."""

    def run(hashes: list[str], texts: list[str]) -> Iterator[tuple[list[str], np.ndarray]]:
        for i in range(0, len(hashes), batch_size):
            yield hashes[i : i + batch_size], embedder.embed_batch(texts[i : i + batch_size])

    return run


def embed_all(
    texts: Sequence[str],
    embedder_id: str,
    cache: EmbeddingCache,
    runner: MissRunner,
    notify: ProgressFn,
) -> tuple[np.ndarray, int]:
    """Vectors for all texts, embedding only those the cache lacks; returns (vectors, embedded)."""
    hashes = [text_hash(text) for text in texts]
    known = cache.get_many(embedder_id, hashes)
    first_of = {h: i for i, h in reversed(list(enumerate(hashes)))}
    # Similar lengths batched together waste less padding work in the encoder.
    missing = sorted((h for h in first_of if h not in known), key=lambda h: len(texts[first_of[h]]))
    notify("embed", len(texts) - len(missing), len(texts))
    done = 0
    for batch, vectors in runner(missing, [texts[first_of[h]] for h in missing]) if missing else ():
        fresh = dict(zip(batch, vectors, strict=True))
        cache.put_many(embedder_id, fresh.items())
        known.update(fresh)
        done += len(batch)
        notify("embed", len(texts) - len(missing) + done, len(texts))
    if len({known[h].shape[0] for h in hashes}) > 1:
        raise IndexBuildError(
            f"embedding cache holds vectors of mixed sizes for {embedder_id}: delete {CACHE_FILE}"
        )
    return np.stack([known[h] for h in hashes]).astype(np.float32), len(missing)


@dataclass
class CachedEmbedding:
    """Embeds through the cache and counts what the embedder actually ran on."""

    embedder_id: str
    cache: EmbeddingCache
    runner: MissRunner
    notify: ProgressFn
    embedded: int = 0

    def __call__(self, chunks: list[Chunk], runner: MissRunner | None = None) -> np.ndarray:
        """Vectors of `chunks`, the misses embedded by `runner` (default: this one's)."""
        texts = [embed_text(chunk) for chunk in chunks]
        run = runner or self.runner
        vectors, embedded = embed_all(texts, self.embedder_id, self.cache, run, self.notify)
        self.embedded += embedded
        return vectors
