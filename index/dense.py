"""Exact inner-product search over L2-normalized vectors (FAISS IndexFlatIP)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import faiss


class DenseIndex:
    """Row i of the FAISS index is chunk i of the index folder; scores are cosine similarities."""

    def __init__(self, index: faiss.Index) -> None:
        self._index = index

    @classmethod
    def build(cls, vectors: np.ndarray) -> DenseIndex:
        import faiss

        matrix = np.ascontiguousarray(vectors, dtype=np.float32)
        index = faiss.IndexFlatIP(matrix.shape[1])
        if len(matrix):
            index.add(matrix)
        return cls(index)

    @classmethod
    def load(cls, path: Path) -> DenseIndex:
        import faiss

        return cls(faiss.read_index(str(path)))

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(path))

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    @property
    def dim(self) -> int:
        return int(self._index.d)

    def search(
        self, query: np.ndarray, k: int, rows: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Top `k` (chunk index, cosine similarity) pairs, best first, among `rows` if given."""
        import faiss

        k = min(k, self.size if rows is None else len(rows))
        if k <= 0:
            return []
        row = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        params = None
        if rows is not None:
            # faiss's SWIG stubs do not declare the keyword; it is documented and tested.
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(rows))  # type: ignore[call-arg]
        scores, ids = self._index.search(row, k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def similarity(self, query: np.ndarray, rows: list[int]) -> list[float]:
        """Cosine similarity of the query to given rows (rebuilt from the flat index)."""
        vectors = np.stack([self._index.reconstruct(i) for i in rows])
        return [float(s) for s in vectors @ query.reshape(-1).astype(np.float32)]
