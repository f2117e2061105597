"""Typed settings for chunking, embedding and search."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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
        1.0, ge=0, description="Weight of the BM25 ranking in RRF for Chinese queries."
    )
    en_dense_weight: float = Field(
        1.0, ge=0, description="Weight of the dense ranking in RRF for English queries."
    )
    en_lexical_weight: float = Field(
        1.0, ge=0, description="Weight of the BM25 ranking in RRF for English queries."
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
    per_article: int = Field(
        2, ge=1, description="At most this many chunks per article in results."
    )
    candidates: int = Field(
        100, ge=1, description="Candidates taken from each retriever before fusion."
    )
