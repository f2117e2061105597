"""Typed settings for chunking, embedding and search."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ingest.settings import RayIngestSettings

DenseKind = Literal["flat", "hnsw", "ivfpq"]


class IndexSettings(BaseModel):
    """How articles become a searchable index."""

    model_config = ConfigDict(extra="forbid")

    embedder: str = Field(
        "use-m3",
        description=(
            "'use-m3' for the bundled Universal Sentence Encoder multilingual, "
            "or a sentence-transformers model id or local path."
        ),
    )
    query_prefix: str = Field("", description="Prefix added to queries (e5/bge style models).")
    passage_prefix: str = Field("", description="Prefix added to passages (e5 style models).")
    threads: int = Field(2, ge=1, le=64, description="CPU threads used by the embedder.")
    batch_size: int = Field(32, ge=1, le=4096, description="Chunks embedded per batch.")
    chunk_size: int = Field(600, ge=100, le=8000, description="Target chunk size in characters.")
    chunk_overlap: int = Field(
        80, ge=0, le=2000, description="Overlap between chunks in characters."
    )
    rrf_k: int = Field(100, ge=1, description="Reciprocal rank fusion constant.")
    dense_weight: float = Field(
        1.0, ge=0, description="Weight of the dense ranking in RRF for Chinese queries."
    )
    lexical_weight: float = Field(
        1.5, ge=0, description="Weight of the BM25 ranking in RRF for Chinese queries."
    )
    en_dense_weight: float = Field(
        1.0, ge=0, description="Weight of the dense ranking in RRF for English queries."
    )
    en_lexical_weight: float = Field(
        1.5, ge=0, description="Weight of the BM25 ranking in RRF for English queries."
    )
    glossary: str = Field(
        "bundled",
        description=(
            "Bilingual term list expanding queries for BM25: 'bundled' (index/data/"
            "glossary.tsv), a path to a TSV of the same format, or '' for no expansion."
        ),
    )
    dense_expansion: bool = Field(
        False,
        description=(
            "Also embed an English query with its glossary terms in Chinese and average "
            "the two query vectors."
        ),
    )
    reranker: str = Field(
        "",
        description=(
            "sentence-transformers CrossEncoder model id or local path that reranks the "
            "fused candidates; '' (the default) for none."
        ),
    )
    rerank_top: int = Field(30, ge=1, le=500, description="Fused candidates the reranker rescores.")
    navigation_share: float = Field(
        0.5,
        ge=0,
        le=1,
        description=(
            "A chunk with more than this share of its characters in links or URLs is a "
            "navigation chunk (a list of links), demoted by navigation_penalty."
        ),
    )
    navigation_penalty: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Fused score multiplier of navigation chunks in hybrid search; 1 = off.",
    )
    identifier_boost: float = Field(
        2.0,
        ge=1,
        le=10,
        description=(
            "Fused score multiplier, in hybrid search, of chunks that spell out every code "
            "identifier of the query (HCCL_CONNECT_TIMEOUT, torch.library.opcheck, "
            "--some-flag); 1 = off."
        ),
    )
    adapter: bool = Field(
        True,
        description=(
            "Fit a query-side linear adapter for dense search at build time, from the "
            "corpus's own passages (a sentence of each must find its passage); false = raw "
            "embedder vectors."
        ),
    )
    adapter_pairs: int = Field(
        8000, ge=2, description="At most this many passages (one sentence each) train it."
    )
    adapter_epochs: int = Field(3, ge=1, le=50, description="Passes over those pairs.")
    adapter_min_passages: int = Field(
        1000,
        ge=2,
        description=(
            "Smaller corpora get no adapter: a few Adam steps on a few hundred passages "
            "leave the 512x512 map at the identity, and the probes cost embedding time."
        ),
    )
    adapter_refit: float = Field(
        0.05,
        ge=0.0,
        le=1.0,
        description=(
            "An incremental build keeps the live adapter unless more than this share of "
            "passages was added or removed; 0 = always refit."
        ),
    )
    per_article: int = Field(
        2, ge=1, description="At most this many chunks per article in results."
    )
    candidates: int = Field(
        100, ge=1, description="Candidates taken from each retriever before fusion."
    )
    dense: DenseKind = Field(
        "flat",
        description=(
            "Dense index kind: 'flat' (exact; fine up to ~1M chunks), 'hnsw' (graph, fast "
            "queries, no removal) or 'ivfpq' (compressed, approximate, least memory)."
        ),
    )
    hnsw_m: int = Field(
        32, ge=4, le=128, description="HNSW: neighbours per node (memory vs recall)."
    )
    hnsw_ef_construction: int = Field(
        80, ge=8, le=2048, description="HNSW: search breadth while building (build time vs recall)."
    )
    hnsw_ef_search: int = Field(
        64, ge=1, le=8192, description="HNSW: search breadth per query (latency vs recall)."
    )
    ivf_nlist: int = Field(
        0, ge=0, description="IVF-PQ: inverted lists; 0 = auto (about 4·sqrt(vectors))."
    )
    ivf_nprobe: int = Field(
        32, ge=1, description="IVF-PQ: lists scanned per query (latency vs recall)."
    )
    pq_m: int = Field(
        0,
        ge=0,
        description=(
            "IVF-PQ: sub-quantizers (code bytes at 8 bits) per vector; must divide the "
            "dimension. 0 = auto: dimension/2, 8x smaller than float32."
        ),
    )
    pq_bits: int = Field(8, ge=4, le=12, description="IVF-PQ: bits per sub-quantizer code.")
    bm25_mmap: bool = Field(
        False,
        description="Memory-map the BM25 index on load instead of reading it into RAM.",
    )
    reload_check: float = Field(
        2.0,
        ge=0,
        description=(
            "Seconds between checks (on the query path) for a version another process "
            "published; a new one is swapped in live. 0 = off."
        ),
    )


class RayStageSettings(BaseModel):
    """How one stage runs on Ray workers."""

    model_config = ConfigDict(extra="forbid")

    batch_size: int = Field(64, ge=1, le=65536, description="Items per Ray batch.")
    concurrency: int = Field(2, ge=1, le=4096, description="Ray workers running the stage.")
    cpus_per_worker: float = Field(
        1.0, gt=0, le=256, description="CPUs each worker reserves (and the threads it uses)."
    )


class RaySettings(BaseModel):
    """The Ray cluster that runs the heavy stages when `executor: ray`."""

    model_config = ConfigDict(extra="forbid")

    address: str = Field(
        "",
        description=(
            "Cluster to join: 'host:port' of a head node, 'auto' for one started on this "
            "machine, or '' to start a private Ray for the build."
        ),
    )
    embed: RayStageSettings = Field(
        default_factory=RayStageSettings, description="Embedding of cache misses."
    )
    tokenize: RayStageSettings = Field(
        default_factory=lambda: RayStageSettings(batch_size=1000),
        description="BM25 tokenization of new chunks (jieba); under two batches run locally.",
    )
    ingest: RayIngestSettings = Field(
        default_factory=RayIngestSettings, description="Fetching and extraction."
    )
