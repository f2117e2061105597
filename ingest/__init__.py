"""ingest: reading lists and other sources → fetched, cleaned, deduplicated articles in SQLite."""

import logging

from ingest.pipeline import IngestOptions, IngestReport, ProgressFn, run_ingest
from ingest.ray_cluster import ClusterError, RayIngest
from ingest.settings import FetchSettings, IngestSettings, RayIngestSettings
from ingest.sources import SourceError, parse_reading_list, parse_source_spec
from ingest.store import ArticleStore, StoreError, StoreStats
from ingest.types import Article, FetchResult, Link, SourceKind, SourceSpec
from ingest.urls import canonical_url

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "Article",
    "ArticleStore",
    "ClusterError",
    "FetchResult",
    "FetchSettings",
    "IngestOptions",
    "IngestReport",
    "IngestSettings",
    "Link",
    "ProgressFn",
    "RayIngest",
    "RayIngestSettings",
    "SourceError",
    "SourceKind",
    "SourceSpec",
    "StoreError",
    "StoreStats",
    "canonical_url",
    "parse_reading_list",
    "parse_source_spec",
    "run_ingest",
]
