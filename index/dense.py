"""Dense search over L2-normalized vectors: FAISS inner product, addressed by stable chunk ids.

Vectors live under 63-bit ids derived from chunk ids (`chunk_key`), not under row numbers,
so an incremental build can `remove_ids` the chunks of a changed article and `add` the new
ones without renumbering the rest (FAISS `IndexIDMap2` over the flat index).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from index.settings import IndexSettings

if TYPE_CHECKING:
    import faiss

_KEY_MASK = (1 << 63) - 1


def chunk_key(chunk_id: str) -> int:
    """The FAISS id of a chunk: its hex id as a non-negative int64."""
    return int(chunk_id, 16) & _KEY_MASK


def _ids(ids: np.ndarray | list[int]) -> np.ndarray:
    return np.ascontiguousarray(ids, dtype=np.int64)


def _rows(vectors: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(vectors, dtype=np.float32)


def _new_index(dim: int, settings: IndexSettings | None) -> faiss.Index:
    """An empty index of the configured kind; flat is exact and fine up to ~1M chunks."""
    import faiss

    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


class DenseIndex:
    """Scores are cosine similarities (inner products of unit vectors)."""

    def __init__(self, index: faiss.Index) -> None:
        self._index = index

    @classmethod
    def build(
        cls, vectors: np.ndarray, ids: np.ndarray | list[int], settings: IndexSettings | None = None
    ) -> DenseIndex:
        """An index of the configured kind holding `vectors` under `ids`."""
        matrix = _rows(vectors)
        dense = cls(_new_index(int(matrix.shape[1]), settings))
        dense.add(matrix, ids)
        return dense

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

    @property
    def supports_remove(self) -> bool:
        """Whether `remove` works; when not, an incremental build rebuilds the dense part."""
        return True

    def add(self, vectors: np.ndarray, ids: np.ndarray | list[int]) -> None:
        matrix, keys = _rows(vectors), _ids(ids)
        if len(matrix) != len(keys):
            raise ValueError(f"{len(matrix)} vectors but {len(keys)} ids")
        if len(matrix):
            self._index.add_with_ids(matrix, keys)

    def remove(self, ids: np.ndarray | list[int]) -> int:
        """Drop the given ids; returns how many were present."""
        import faiss

        keys = _ids(ids)
        if not len(keys):
            return 0
        return int(self._index.remove_ids(faiss.IDSelectorBatch(keys)))

    def ids(self) -> np.ndarray:
        """Every id held, in storage order."""
        import faiss

        id_map = self._index.id_map  # type: ignore[attr-defined]  # IndexIDMap2 has one
        return faiss.vector_to_array(id_map).astype(np.int64)

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Top `k` (id, cosine similarity) pairs, best first."""
        k = min(k, self.size)
        if k <= 0:
            return []
        row = _rows(query.reshape(1, -1))
        scores, ids = self._index.search(row, k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def similarity(self, query: np.ndarray, ids: list[int]) -> list[float]:
        """Cosine similarity of the query to the vectors stored under `ids`."""
        if not ids:
            return []
        vectors = np.stack([self._index.reconstruct(int(i)) for i in ids])
        return [float(s) for s in vectors @ query.reshape(-1).astype(np.float32)]
