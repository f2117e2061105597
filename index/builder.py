"""Build a new index version from the article store: chunk → embed (cached) → FAISS + BM25."""

from __future__ import annotations

import ctypes
import logging
import time
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from index.adapter import build_adapter
from index.cache import CACHE_FILE, CachedEmbedding, ChunkTexts, EmbeddingCache
from index.chunking import chunk_article, embed_text, lexical_text
from index.dense import chunk_key
from index.dense_build import dense_part, runners
from index.embedders import Embedder, get_embedder
from index.lexical import LexicalIndex
from index.ray_tokens import TokenRunner, token_runner
from index.settings import IndexSettings, RaySettings
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
from index.tokens import TokenTable
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
    """The next version: reused chunks (with their token rows in the previous version's
    table), new chunks, and dropped chunk keys."""

    kept: list[Chunk]
    kept_rows: array[int]
    added: list[Chunk]
    removed: list[int]
    articles: int


@dataclass
class _Build:
    """One build's inputs, as the stages below need them."""

    data_dir: Path
    settings: IndexSettings
    embedder: Embedder
    ray: RaySettings | None
    notify: ProgressFn
    previous: Previous | None
    plan: _Plan
    signatures: dict[int, str]
    fingerprint: dict[str, Any]


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
    notify = progress or _silent
    wanted = fingerprint(settings, embedder.id)
    previous, reason = (None, "full rebuild requested") if full else load_previous(data_dir, wanted)
    signatures, plan = _read_store(store, previous, settings, notify)
    if plan is None and previous is not None:
        return _unchanged(previous, len(signatures), started)
    if plan is None or (not plan.kept and not plan.added):
        raise IndexBuildError(f"no article text to index in {data_dir}: run `linkrag ingest` first")
    build = _Build(data_dir, settings, embedder, ray, notify, previous, plan, signatures, wanted)
    version, folder, meta, embedded = _write(build)
    report = IndexReport(
        version, plan.articles, meta["chunks"], embedded, meta["chunks"] - embedded,
        time.perf_counter() - started, folder, folder_bytes(folder), meta["mode"],
        reason if previous is None else "", meta["added"], meta["removed"],
    )  # fmt: skip
    log.info("index %s (%s): %d articles, %d chunks (+%d -%d, %d embedded) in %.1f s",
             version, report.mode, report.articles, report.chunks, report.added,
             report.removed, report.embedded, report.seconds)  # fmt: skip
    return report


def _give_back_freed_memory() -> None:
    """Return the heap's free pages to the OS (glibc; elsewhere nothing happens). glibc
    keeps the pages of the freed chunks and article texts, and bm25s's arrays are too big
    to reuse them (they get their own mappings), so without this both count at the peak."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)


def _read_store(
    store: ArticleSource, previous: Previous | None, settings: IndexSettings, notify: ProgressFn
) -> tuple[dict[int, str], _Plan | None]:
    """The articles' signatures, and the next version's plan (None: nothing changed). The
    article texts are dropped on return: the chunks hold what the build needs of them."""
    articles = list(store.iter_articles())
    signatures = {a.id: article_signature(a) for a in articles if a.id is not None}
    if previous is not None and previous.signatures == signatures:
        return signatures, None
    plan = _plan(previous, articles, signatures, settings, notify)
    if previous is not None:
        previous.chunks = []  # the plan holds those it keeps
    return signatures, plan


def _write(build: _Build) -> tuple[str, Path, dict[str, Any], int]:
    """Embed, then write a staging folder and swap it live; a failure leaves no half-written
    version. Returns (version, folder, meta, texts embedded)."""
    runner, sharder = runners(build.embedder, build.settings, build.ray)
    with EmbeddingCache(build.data_dir / CACHE_FILE) as cache:
        embed = CachedEmbedding(build.embedder.id, cache, runner, build.notify)
        plan = build.plan
        dense = dense_part(build.previous, plan.kept, plan.added, plan.removed, embed,
                           build.settings, sharder)  # fmt: skip
        live = build.previous.adapter if build.previous else None
        adapter = build_adapter(plan.kept + plan.added, build.settings, embed, build.notify,
                                (live, len(plan.added) + len(plan.removed)))  # fmt: skip
    with staging_folder(build.data_dir) as (version, staging):
        dense.save(staging / DENSE_FILE)
        if adapter is not None:
            adapter.save(staging)
        dim = dense.dim
        del dense  # saved: the BM25 build below gets its memory back
        meta = make_meta(build.fingerprint, dim, plan.articles, len(plan.kept) + len(plan.added))
        meta.update(mode="incremental" if build.previous else "full", added=len(plan.added),
                    removed=len(plan.removed))  # fmt: skip
        chunks, tokens = _ordered(plan, build.previous, build.notify,
                                  token_runner(build.ray))  # fmt: skip
        write_chunks(staging, chunks)
        del chunks  # the plan let go of them too: the BM25 build gets their memory
        _give_back_freed_memory()
        write_tokens(staging, tokens)
        LexicalIndex.build(tokens).save(staging / LEXICAL_DIR)
        write_signatures(staging, build.signatures)
        write_meta(staging, meta)
        return version, publish(build.data_dir, version, staging), meta, embed.embedded


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
    plan = _Plan([], array("q"), [], [], 0)
    stale: dict[str, tuple[Chunk, int]] = {}
    for row, chunk in enumerate(previous.chunks if previous else ()):
        if chunk.article_id in same:
            plan.kept.append(chunk)
            plan.kept_rows.append(row)
        else:
            stale[chunk.chunk_id] = (chunk, row)
    todo = [a for a in articles if a.id not in same]
    indexed, fresh = _chunk_all(todo, settings, notify, {c.chunk_id for c in plan.kept})
    plan.articles = len(same) + indexed
    for chunk in fresh:
        # An edit usually leaves most of an article's passages alone: those keep their
        # vector and tokens (the new Chunk still brings its new offsets).
        was = stale.pop(chunk.chunk_id, None)
        if was is not None and embed_text(was[0]) == embed_text(chunk):
            plan.kept.append(chunk)
            plan.kept_rows.append(was[1])
            continue
        if was is not None:
            stale[chunk.chunk_id] = was  # same key, new vector: remove, then add again
        plan.added.append(chunk)
    plan.removed = [chunk_key(chunk_id) for chunk_id in stale]
    return plan


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


def _position(chunk: Chunk) -> tuple[int, int, int, str]:
    return chunk.article_id, chunk.start, chunk.end, chunk.chunk_id


def _ordered(
    plan: _Plan, previous: Previous | None, notify: ProgressFn, tokens_of: TokenRunner
) -> tuple[list[Chunk], TokenTable]:
    """All chunks in article order with their BM25 tokens; only new chunks get tokenized.

    The order is the same whichever way a version was reached, so an incremental build
    and a full one give identical files and identical rankings. The plan's chunk lists are
    emptied: the returned list is then the only thing holding the chunks.
    """
    everything, kept = plan.kept + plan.added, len(plan.kept)
    plan.kept, plan.added = [], []
    order = sorted(range(len(everything)), key=lambda i: _position(everything[i]))
    old = previous.tokens if previous is not None else None
    fresh = [i for i in order if i >= kept or old is None]
    stream = tokens_of(ChunkTexts(everything, fresh, lexical_text))
    table, done = TokenTable(), 0
    for i in order:
        if i < kept and old is not None:
            table.append(old.tokens(plan.kept_rows[i]))
            continue
        table.append(next(stream))
        done += 1
        if done % _TOKENIZE_STEP == 0 or done == len(fresh):
            notify("tokenize", done, len(fresh))
    if next(stream, None) is not None:  # also lets a Ray stream close its session now
        raise IndexBuildError("the tokenizer returned more token lists than texts")
    return [everything[i] for i in order], table
