"""Embedding cache in SQLite, keyed by (embedder id, sha1 of the embedded text), and the
cache-first embedding loop builds use."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, overload

import numpy as np

from index.chunking import embed_text
from index.embedders import Embedder
from index.types import Chunk, IndexBuildError, ProgressFn

# A rowid table on 16 KB pages stores a 512-d vector in ~2.4 KB of file. The first layout
# (WITHOUT ROWID, 4 KB pages) took ~4.7 KB: an index b-tree keeps ~1 KB of a row in its page
# and spills the rest to an overflow page of its own (11 GB for 2.35M vectors). Caches made
# that way keep working (the same statements serve both); only new files get this layout.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    embedder TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    vector BLOB NOT NULL,
    UNIQUE (embedder, text_hash)
)
"""
_PAGE_SIZE = 16384  # takes effect only on a new file, before its first write
CACHE_FILE = "embeddings.sqlite"
_BATCH = 500  # stays well under SQLite's bound-parameter limit
_BLOCK = 4096  # vectors read back at a time: 8 MB at 512 dims


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Vectors already computed, so a rebuild embeds only new or changed chunks."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute(f"PRAGMA page_size={_PAGE_SIZE}")
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

    def missing(self, embedder_id: str, hashes: Sequence[str]) -> list[str]:
        """The given hashes without a cached vector, in their order (blobs are not read)."""
        absent: list[str] = []
        for i in range(0, len(hashes), _BATCH):
            batch = hashes[i : i + _BATCH]
            marks = ",".join("?" * len(batch))
            rows = self._db.execute(
                f"SELECT text_hash FROM embeddings WHERE embedder = ? AND text_hash IN ({marks})",
                [embedder_id, *batch],
            )
            present = {key for (key,) in rows}
            absent.extend(h for h in batch if h not in present)
        return absent

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
MissRunner = Callable[[list[str], Sequence[str]], Iterator[tuple[list[str], np.ndarray]]]


def local_runner(embedder: Embedder, batch_size: int) -> MissRunner:
    """Embeds misses in this process, `batch_size` texts at a time."""

    def run(hashes: list[str], texts: Sequence[str]) -> Iterator[tuple[list[str], np.ndarray]]:
        for i in range(0, len(hashes), batch_size):
            yield hashes[i : i + batch_size], embedder.embed_batch(texts[i : i + batch_size])

    return run


def embed_missing(
    items: Sequence[Any],
    hashes: Sequence[str],
    embedder_id: str,
    cache: EmbeddingCache,
    runner: MissRunner,
    notify: ProgressFn,
    text_of: Callable[[Any], str] = embed_text,
    stage: str = "embed",
) -> int:
    """Embed and cache the items (chunks, or plain texts with `text_of=str`) whose text
    (hashes[i] is item i's) the cache lacks; returns how many texts were embedded. The
    vectors go to the cache, not to the caller."""
    rows = _misses(items, hashes, cache.missing(embedder_id, _unique(hashes)), text_of)
    missing = [hashes[row] for row in rows]
    notify(stage, len(hashes) - len(missing), len(hashes))
    done = 0
    for batch, vectors in runner(missing, ChunkTexts(items, rows, text_of)) if missing else ():
        cache.put_many(embedder_id, zip(batch, vectors, strict=True))
        done += len(batch)
        notify(stage, len(hashes) - len(missing) + done, len(hashes))
    return len(missing)


def _unique(hashes: Sequence[str]) -> list[str]:
    """Distinct hashes, last occurrence first: the order misses were always batched in."""
    return list(dict.fromkeys(reversed(hashes)))


def _misses(
    items: Sequence[Any], hashes: Sequence[str], missing: list[str], text_of: Callable[[Any], str]
) -> list[int]:
    """The first item of each missing text, shortest text first: similar lengths batched
    together waste less padding work in the encoder."""
    wanted = set(missing)
    first: dict[str, int] = {}
    for i in range(len(hashes) - 1, -1, -1):
        if hashes[i] in wanted:
            first[hashes[i]] = i
    rows = [first[h] for h in missing]
    return sorted(rows, key=lambda row: len(text_of(items[row])))


class ChunkTexts(Sequence[str]):
    """The texts of some chunks, embedded (index/chunking.embed_text) or as BM25 sees them
    (`text_of=lexical_text`), made when asked: all at once they cost ~1 KB a chunk. Over
    plain strings, `text_of=str` picks some of them."""

    def __init__(
        self,
        chunks: Sequence[Any],
        rows: list[int],
        text_of: Callable[[Any], str] = embed_text,
    ) -> None:
        self._chunks, self._rows, self._text_of = chunks, rows, text_of

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> list[str]: ...
    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [self._text_of(self._chunks[row]) for row in self._rows[i]]
        return self._text_of(self._chunks[self._rows[i]])


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
        return self.matrix(self.ensure(chunks, runner))

    def matrix(self, hashes: Sequence[str]) -> np.ndarray:
        """The cached vectors of `hashes`, as one matrix."""
        out = np.empty((len(hashes), 0), np.float32)
        for start, block in self.read(hashes):
            if start == 0:
                out = np.empty((len(hashes), block.shape[1]), np.float32)
            out[start : start + len(block)] = block
        return out

    def ensure(self, chunks: list[Chunk], runner: MissRunner | None = None) -> list[str]:
        """Embed and cache the misses among `chunks`; returns the chunks' text hashes."""
        hashes = [text_hash(embed_text(chunk)) for chunk in chunks]
        run = runner or self.runner
        self.embedded += embed_missing(chunks, hashes, self.embedder_id, self.cache, run,
                                       self.notify)  # fmt: skip
        return hashes

    def texts(self, texts: Sequence[str], stage: str) -> np.ndarray:
        """Vectors of plain texts (not chunks) through the cache, misses embedded by this
        one's runner; progress goes to `stage`. Not counted in `embedded`."""
        hashes = [text_hash(text) for text in texts]
        embed_missing(texts, hashes, self.embedder_id, self.cache, self.runner, self.notify,
                      str, stage)  # fmt: skip
        return self.matrix(hashes)

    def read(self, hashes: Sequence[str]) -> Iterator[tuple[int, np.ndarray]]:
        """(first row, vectors) of cached texts, in order, _BLOCK rows at a time."""
        dim = None
        for start in range(0, len(hashes), _BLOCK):
            found = self.cache.get_many(self.embedder_id, hashes[start : start + _BLOCK])
            block = [found[h] for h in hashes[start : start + _BLOCK]]
            sizes = {dim or len(block[0])} | {len(vector) for vector in block}
            if len(sizes) > 1:
                raise IndexBuildError(f"embedding cache holds vectors of mixed sizes for "
                                      f"{self.embedder_id}: delete {CACHE_FILE}")  # fmt: skip
            dim = len(block[0])
            yield start, np.stack(block)
