"""Value types produced by the index stage."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

# progress(stage, done, total): called as long work advances, for progress bars.
ProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)  # slots: ~300 bytes less per chunk, millions per build
class Chunk:
    """A retrievable span of one article, with offsets back into its text."""

    chunk_id: str  # stable: hash of (canonical url, heading path, text)
    article_id: int
    url: str  # the article's canonical URL
    title: str
    heading: str  # heading path inside the article, " > " joined
    text: str
    start: int  # character offset of `text` in the article text
    end: int
    topic: str = ""  # reading-list heading path of the article


class Hit(NamedTuple):
    """One search result: a chunk, its fused score and its 1-based rank.

    `dense` (cosine similarity) and `lexical` (BM25) keep the raw evidence, because
    RRF scores say nothing about absolute relevance and abstention needs that.
    """

    chunk: Chunk
    score: float
    rank: int
    dense: float = 0.0
    lexical: float = 0.0


class IndexBuildError(Exception):
    """A build cannot produce an index; the message names the problem and the fix."""

    cause = (
        "An index cannot be built: the store has no article text, the embedding cache "
        "holds vectors of mixed sizes, or the settings cannot fit (with `executor: ray`: "
        "the workers' `index.embedder` is not the build's)."
    )
    fix = (
        "Run `linkrag ingest` first, delete the cache file the message names, or change "
        "the named setting (or use `executor: local`)."
    )
