"""index: articles → heading-aware chunks → embeddings → FAISS + BM25, fused by RRF."""

import logging

from index.builder import ArticleSource, IndexReport, build_index
from index.chunking import chunk_article, embed_text, lexical_text
from index.embedders import Embedder, get_embedder, register_embedder
from index.filters import site_host
from index.lexical import tokenize
from index.query import Glossary, QueryPlan, analyze, is_small_talk, query_language
from index.rerank import CrossEncoderReranker
from index.search import SearchIndex
from index.settings import IndexSettings, RaySettings, RayStageSettings
from index.store import IndexLoadError, IndexMismatchError, IndexNotFoundError, current_version
from index.types import Chunk, Hit, IndexBuildError, ProgressFn

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "ArticleSource",
    "Chunk",
    "CrossEncoderReranker",
    "Embedder",
    "Glossary",
    "Hit",
    "IndexBuildError",
    "IndexLoadError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "IndexReport",
    "IndexSettings",
    "ProgressFn",
    "QueryPlan",
    "RaySettings",
    "RayStageSettings",
    "SearchIndex",
    "analyze",
    "build_index",
    "chunk_article",
    "current_version",
    "embed_text",
    "get_embedder",
    "is_small_talk",
    "lexical_text",
    "query_language",
    "register_embedder",
    "site_host",
    "tokenize",
]
