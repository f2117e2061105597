"""Build a new index version from the article store: chunk → embed (cached) → FAISS + BM25."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from index.cache import EmbeddingCache, text_hash
from index.chunking import chunk_article, embed_text
from index.dense import DenseIndex, chunk_key
from index.embedders import Embedder, get_embedder
from index.lexical import LexicalIndex, tokenize
from index.settings import IndexSettings
from index.store import (
    DENSE_FILE,
    LEXICAL_DIR,
    folder_bytes,
    make_meta,
    new_staging,
    publish,
    write_chunks,
    write_meta,
)
from index.types import Chunk
from ingest import Article

log = logging.getLogger(__name__)

ProgressFn = Callable[[str, int, int], None]
CACHE_FILE = "embeddings.sqlite"
_TOKENIZE_STEP = 500  # chunks between "tokenize" progress calls


class ArticleSource(Protocol):
    """What the builder needs from the article store."""

    def iter_articles(self) -> Iterator[Article]: ...


class IndexBuildError(Exception):
    """A build cannot produce an index; the message names the problem and the fix."""


@dataclass
class IndexReport:
    """What a build did; `embedded` + `cached` = `chunks`."""

    version: str
    articles: int
    chunks: int
    embedded: int
    cached: int
    seconds: float
    path: Path
    bytes: int


def _silent(stage: str, done: int, total: int) -> None:
    pass


def build_index(
    store: ArticleSource,
    data_dir: Path,
    settings: IndexSettings,
    *,
    embedder: Embedder | None = None,
    progress: ProgressFn | None = None,
) -> IndexReport:
    """Write a new index version and make it the live one; the old one serves until then."""
    started = time.perf_counter()
    data_dir = Path(data_dir)
    embedder = embedder or get_embedder(settings)
    notify = progress or _silent
    articles, chunks = _chunk_all(store, settings, notify)
    if not chunks:
        raise IndexBuildError(f"no article text to index in {data_dir}: run `linkrag ingest` first")
    texts = [embed_text(chunk) for chunk in chunks]
    with EmbeddingCache(data_dir / CACHE_FILE) as cache:
        vectors, embedded = _embed_all(texts, embedder, cache, settings.batch_size, notify)
    meta = make_meta(settings, embedder.id, int(vectors.shape[1]), articles, len(chunks))
    version, folder = _publish(data_dir, chunks, texts, vectors, meta, settings, notify)
    seconds = time.perf_counter() - started
    cached = len(chunks) - embedded
    report = IndexReport(
        version, articles, len(chunks), embedded, cached, seconds, folder, folder_bytes(folder)
    )
    log.info("index %s: %d articles, %d chunks (%d embedded, %d cached) in %.1f s",
             version, articles, len(chunks), embedded, cached, seconds)  # fmt: skip
    return report


def _publish(
    data_dir: Path,
    chunks: list[Chunk],
    texts: list[str],
    vectors: np.ndarray,
    meta: dict[str, object],
    settings: IndexSettings,
    notify: ProgressFn,
) -> tuple[str, Path]:
    """Write a staging folder, then swap it live; a failure leaves no half-written version."""
    version, staging = new_staging(data_dir)
    try:
        _write(staging, chunks, texts, vectors, settings, notify)
        write_meta(staging, meta)
        return version, publish(data_dir, version, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _chunk_all(
    store: ArticleSource, settings: IndexSettings, notify: ProgressFn
) -> tuple[int, list[Chunk]]:
    articles = list(store.iter_articles())
    chunks: list[Chunk] = []
    seen: set[str] = set()
    indexed = 0
    for done, article in enumerate(articles, 1):
        try:
            found = chunk_article(article, settings)
        except ValueError as exc:  # one bad article must not sink the build
            log.warning("skipping article: %s", exc)
            found = None
        if found is not None:
            fresh = [c for c in found if c.chunk_id not in seen]
            seen.update(c.chunk_id for c in fresh)
            chunks.extend(fresh)
            indexed += 1
        notify("chunk", done, len(articles))
    return indexed, chunks


def _embed_all(
    texts: Sequence[str],
    embedder: Embedder,
    cache: EmbeddingCache,
    batch_size: int,
    notify: ProgressFn,
) -> tuple[np.ndarray, int]:
    """Vectors for all texts, embedding only those the cache lacks; returns (vectors, embedded)."""
    hashes = [text_hash(text) for text in texts]
    known = cache.get_many(embedder.id, hashes)
    first_of = {h: i for i, h in reversed(list(enumerate(hashes)))}
    missing = sorted((h for h in first_of if h not in known), key=lambda h: len(texts[first_of[h]]))
    notify("embed", len(texts) - len(missing), len(texts))
    done = 0
    # Similar lengths batched together waste less padding work in the encoder.
    for i in range(0, len(missing), batch_size):
        batch = missing[i : i + batch_size]
        vectors = embedder.embed_batch([texts[first_of[h]] for h in batch])
        fresh = dict(zip(batch, vectors, strict=True))
        cache.put_many(embedder.id, fresh.items())
        known.update(fresh)
        done += len(batch)
        notify("embed", len(texts) - len(missing) + done, len(texts))
    if len({known[h].shape[0] for h in hashes}) > 1:
        raise IndexBuildError(
            f"embedding cache holds vectors of mixed sizes for {embedder.id}: delete {CACHE_FILE}"
        )
    return np.stack([known[h] for h in hashes]).astype(np.float32), len(missing)


def _write(
    folder: Path,
    chunks: list[Chunk],
    texts: list[str],
    vectors: np.ndarray,
    settings: IndexSettings,
    notify: ProgressFn,
) -> None:
    keys = [chunk_key(chunk.chunk_id) for chunk in chunks]
    DenseIndex.build(vectors, keys, settings).save(folder / DENSE_FILE)
    tokens: list[list[str]] = []
    for i, text in enumerate(texts):
        tokens.append(tokenize(text))
        if (i + 1) % _TOKENIZE_STEP == 0 or i + 1 == len(texts):
            notify("tokenize", i + 1, len(texts))
    LexicalIndex.build(tokens).save(folder / LEXICAL_DIR)
    write_chunks(folder, chunks)
