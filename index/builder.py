"""Build a new index version from the article store: chunk → embed (cached) → FAISS + BM25."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Protocol

from index.cache import CACHE_FILE, CachedEmbedding, EmbeddingCache, MissRunner, local_runner
from index.chunking import chunk_article, embed_text
from index.dense import DenseIndex, chunk_key
from index.embedders import Embedder, get_embedder
from index.lexical import LexicalIndex, tokenize
from index.settings import IndexSettings, RaySettings
from index.shards import Sharder
from index.state import (
    Previous,
    article_signature,
    fingerprint,
    load_previous,
    write_signatures,
    write_tokens,
)
from index.store import (
    DENSE_FILE,
    LEXICAL_DIR,
    folder_bytes,
    make_meta,
    publish,
    staging_folder,
    write_chunks,
    write_meta,
)
from index.types import Chunk, IndexBuildError, ProgressFn
from ingest import Article

log = logging.getLogger(__name__)

_TOKENIZE_STEP = 500  # chunks between "tokenize" progress calls


class ArticleSource(Protocol):
    """What the builder needs from the article store."""

    def iter_articles(self) -> Iterator[Article]: ...


@dataclass
class IndexReport:
    """What a build did.

    `mode` is "full", "incremental" or "unchanged" (no new version was written), and
    `reason` says why a full build was needed. `embedded` counts chunks the embedder ran
    on; `cached` = `chunks` - `embedded` came from the cache or the previous version.
    """

    version: str
    articles: int
    chunks: int
    embedded: int
    cached: int
    seconds: float
    path: Path
    bytes: int
    mode: str = "full"
    reason: str = ""
    added: int = 0
    removed: int = 0


@dataclass
class _Plan:
    """The next version: reused chunks (with tokens), new chunks, and dropped chunk keys."""

    kept: list[Chunk]
    kept_tokens: list[list[str]]
    added: list[Chunk]
    removed: list[int]
    articles: int


def _silent(stage: str, done: int, total: int) -> None:
    pass


def build_index(
    store: ArticleSource,
    data_dir: Path,
    settings: IndexSettings,
    *,
    embedder: Embedder | None = None,
    progress: ProgressFn | None = None,
    full: bool = False,
    ray: RaySettings | None = None,
) -> IndexReport:
    """Bring the index up to date with the store; the old version serves until the swap.

    Only new and changed articles are chunked, embedded and tokenized, unless `full` is
    set or the index settings changed since the live version was built. With `ray`, the
    embedding cache misses are embedded on that Ray cluster instead of in this process.
    """
    started = time.perf_counter()
    data_dir = Path(data_dir)
    embedder = embedder or get_embedder(settings)
    runner, sharder = _runners(embedder, settings, ray)
    notify = progress or _silent
    wanted = fingerprint(settings, embedder.id)
    articles = list(store.iter_articles())
    signatures = {a.id: article_signature(a) for a in articles if a.id is not None}
    previous, reason = (None, "full rebuild requested") if full else load_previous(data_dir, wanted)
    if previous is not None and previous.signatures == signatures:
        return _unchanged(previous, len(signatures), started)
    plan = _plan(previous, articles, signatures, settings, notify)
    if not plan.kept and not plan.added:
        raise IndexBuildError(f"no article text to index in {data_dir}: run `linkrag ingest` first")
    with EmbeddingCache(data_dir / CACHE_FILE) as cache:
        embed = CachedEmbedding(embedder.id, cache, runner, notify)
        dense = _dense_part(previous, plan, embed, settings, sharder)
    chunks, tokens = _ordered(plan, notify)
    meta = make_meta(wanted, dense.dim, plan.articles, len(chunks))
    meta.update(mode="incremental" if previous else "full", added=len(plan.added),
                removed=len(plan.removed))  # fmt: skip
    version, folder = _publish(data_dir, chunks, tokens, dense, signatures, meta)
    report = IndexReport(
        version, plan.articles, len(chunks), embed.embedded, len(chunks) - embed.embedded,
        time.perf_counter() - started, folder, folder_bytes(folder), meta["mode"],
        reason if previous is None else "", len(plan.added), len(plan.removed),
    )  # fmt: skip
    log.info("index %s (%s): %d articles, %d chunks (+%d -%d, %d embedded) in %.1f s",
             version, report.mode, report.articles, report.chunks, report.added,
             report.removed, report.embedded, report.seconds)  # fmt: skip
    return report


def _runners(
    embedder: Embedder, settings: IndexSettings, ray: RaySettings | None
) -> tuple[MissRunner, Sharder | None]:
    """What embeds cache misses and, on Ray, what builds the dense index from sub-indexes."""
    if ray is None:
        return local_runner(embedder, settings.batch_size), None
    from index.ray_embed import ray_runner  # deferred: a local build never imports Ray

    run = ray_runner(settings, ray, embedder.id)
    return partial(run, job=None), Sharder(run)


def _unchanged(previous: Previous, articles: int, started: float) -> IndexReport:
    folder = previous.folder
    seconds = time.perf_counter() - started
    chunks = len(previous.chunks)
    return IndexReport(previous.version, articles, chunks, 0, chunks, seconds, folder,
                       folder_bytes(folder), "unchanged")  # fmt: skip


def _plan(
    previous: Previous | None,
    articles: list[Article],
    signatures: dict[int, str],
    settings: IndexSettings,
    notify: ProgressFn,
) -> _Plan:
    """Keep the chunks of unchanged articles; chunk the new and changed ones."""
    old = previous.signatures if previous else {}
    same = {i for i, sig in signatures.items() if old.get(i) == sig}
    plan = _Plan([], [], [], [], 0)
    stale: dict[str, tuple[Chunk, list[str]]] = {}
    for chunk, tokens in zip(previous.chunks, previous.tokens, strict=True) if previous else ():
        if chunk.article_id in same:
            plan.kept.append(chunk)
            plan.kept_tokens.append(tokens)
        else:
            stale[chunk.chunk_id] = (chunk, tokens)
    todo = [a for a in articles if a.id not in same]
    indexed, fresh = _chunk_all(todo, settings, notify, {c.chunk_id for c in plan.kept})
    plan.articles = len(same) + indexed
    for chunk in fresh:
        # An edit usually leaves most of an article's passages alone: those keep their
        # vector and tokens (the new Chunk still brings its new offsets).
        was = stale.pop(chunk.chunk_id, None)
        if was is not None and embed_text(was[0]) == embed_text(chunk):
            plan.kept.append(chunk)
            plan.kept_tokens.append(was[1])
            continue
        if was is not None:
            stale[chunk.chunk_id] = was  # same key, new vector: remove, then add again
        plan.added.append(chunk)
    plan.removed = [chunk_key(chunk_id) for chunk_id in stale]
    return plan


def _publish(
    data_dir: Path,
    chunks: list[Chunk],
    tokens: list[list[str]],
    dense: DenseIndex,
    signatures: dict[int, str],
    meta: dict[str, object],
) -> tuple[str, Path]:
    """Write a staging folder, then swap it live; a failure leaves no half-written version."""
    with staging_folder(data_dir) as (version, staging):
        dense.save(staging / DENSE_FILE)
        LexicalIndex.build(tokens).save(staging / LEXICAL_DIR)
        write_chunks(staging, chunks)
        write_tokens(staging, tokens)
        write_signatures(staging, signatures)
        write_meta(staging, meta)
        return version, publish(data_dir, version, staging)


def _chunk_all(
    articles: list[Article], settings: IndexSettings, notify: ProgressFn, seen: set[str]
) -> tuple[int, list[Chunk]]:
    """Chunks of the given articles, skipping ids in `seen`; returns (articles, chunks)."""
    chunks: list[Chunk] = []
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


def _dense_part(
    previous: Previous | None,
    plan: _Plan,
    embed: CachedEmbedding,
    settings: IndexSettings,
    sharder: Sharder | None,
) -> DenseIndex:
    """Update the previous FAISS index in place when it can remove ids, else build anew."""
    if previous is not None and plan.kept:
        dense = DenseIndex.load(previous.dense_path, settings)
        if dense.supports_remove:
            dense.remove(plan.removed)
            if plan.added and sharder is not None:
                return sharder.extend(dense, plan.added, embed, settings)
            if plan.added:
                dense.add(embed(plan.added), _keys(plan.added))
            return dense
    everything = plan.kept + plan.added
    if sharder is not None:
        return sharder.build(everything, embed, settings)
    vectors = embed(everything)
    try:
        return DenseIndex.build(vectors, _keys(everything), settings)
    except ValueError as exc:  # e.g. a pq_m that does not divide the dimension
        raise IndexBuildError(str(exc)) from exc


def _keys(chunks: list[Chunk]) -> list[int]:
    return [chunk_key(chunk.chunk_id) for chunk in chunks]


def _position(chunk: Chunk) -> tuple[int, int, int, str]:
    return chunk.article_id, chunk.start, chunk.end, chunk.chunk_id


def _ordered(plan: _Plan, notify: ProgressFn) -> tuple[list[Chunk], list[list[str]]]:
    """All chunks in article order with their BM25 tokens; only new chunks get tokenized.

    The order is the same whichever way a version was reached, so an incremental build
    and a full one give identical files and identical rankings.
    """
    tokens = dict(zip((c.chunk_id for c in plan.kept), plan.kept_tokens, strict=True))
    for i, chunk in enumerate(plan.added, 1):
        tokens[chunk.chunk_id] = tokenize(embed_text(chunk))
        if i % _TOKENIZE_STEP == 0 or i == len(plan.added):
            notify("tokenize", i, len(plan.added))
    chunks = sorted(plan.kept + plan.added, key=_position)
    return chunks, [tokens[c.chunk_id] for c in chunks]
