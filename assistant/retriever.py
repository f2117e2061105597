"""A LangChain retriever over the hybrid (dense + BM25) search index."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from index import Embedder, Hit


@runtime_checkable
class Searcher(Protocol):
    """What the assistant needs from `index.SearchIndex`; fakes can stand in for it."""

    @property
    def embedder(self) -> Embedder: ...

    def search(
        self, query: str, k: int = 8, *, section: str | None = None, site: str | None = None
    ) -> list[Hit]: ...

    def embed_query(self, text: str) -> np.ndarray: ...


def hit_to_document(hit: Hit) -> Document:
    """A Document carrying the hit itself, so the answerer keeps offsets and scores."""
    chunk = hit.chunk
    metadata = {
        "hit": hit,
        "url": chunk.url,
        "title": chunk.title,
        "heading": chunk.heading,
        "chunk_id": chunk.chunk_id,
        "rank": hit.rank,
        "score": hit.score,
        "dense": hit.dense,
    }
    return Document(page_content=chunk.text, metadata=metadata)


def documents_to_hits(documents: list[Document]) -> list[Hit]:
    """Undo `hit_to_document`; documents from elsewhere (no hit inside) are ignored."""
    return [doc.metadata["hit"] for doc in documents if isinstance(doc.metadata.get("hit"), Hit)]


class HybridRetriever(BaseRetriever):
    """Returns the top `k` chunks of the hybrid search as Documents, in rank order."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: Searcher = Field(description="The loaded search index.")
    k: int = Field(8, ge=1, description="Chunks returned per query.")
    section: str | None = Field(None, description="Only articles of this reading-list section.")
    site: str | None = Field(None, description="Only articles on this host or its subdomains.")

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        hits = search_hits(self.index, query, self.k, self.section, self.site)
        return [hit_to_document(hit) for hit in hits]


def search_hits(
    index: Searcher, query: str, k: int, section: str | None = None, site: str | None = None
) -> list[Hit]:
    """`index.search`, passing the filters only when set, so plain searchers still work."""
    if section or site:
        return index.search(query, k=k, section=section, site=site)
    return index.search(query, k=k)
