"""Every dense index kind (flat, hnsw, ivfpq) with real FAISS on small synthetic vectors."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from test_index_support import FakeSource, HashEmbedder, corpus

from index import IndexSettings, SearchIndex, build_index
from index.dense import DenseIndex, DenseSettingsError, ivf_lists, pq_subquantizers

if TYPE_CHECKING:
    import faiss

DIM = 64
N = 2000  # above the ivfpq floor, small enough to train in well under a second
KINDS = ("flat", "hnsw", "ivfpq")
pytestmark = pytest.mark.usefixtures("one_faiss_thread")


def _vectors(n: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _ids(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.int64) * 7_919 + 2**40  # sparse and large, like chunk keys


def _settings(kind: str, **extra: object) -> IndexSettings:
    return IndexSettings.model_validate({"dense": kind, "pq_m": 8, **extra})


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return _vectors(N)


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_round_trips_and_finds_a_stored_vector_first(
    kind: str, vectors: np.ndarray, tmp_path: Path
) -> None:
    ids = _ids(N)
    DenseIndex.build(vectors, ids, _settings(kind)).save(tmp_path / "faiss.index")
    dense = DenseIndex.load(tmp_path / "faiss.index", _settings(kind))
    assert (dense.kind, dense.size, dense.dim) == (kind, N, DIM)
    assert sorted(dense.ids().tolist()) == ids.tolist()
    for row in (0, 17, N - 1):
        (best, score), *_ = dense.search(vectors[row], 5)
        assert best == ids[row]
        [similarity] = dense.similarity(vectors[row], [int(ids[row])])
        # flat and hnsw keep the vectors; ivfpq decodes a coarse approximation of them
        # (8 dimensions per sub-quantizer, trained on only 2000 random vectors)
        assert similarity == pytest.approx(1.0, abs=1e-5 if kind != "ivfpq" else 0.3)
        assert score == pytest.approx(similarity, abs=1e-5)


@pytest.mark.parametrize("kind", ["flat", "ivfpq"])
def test_removed_ids_never_come_back(kind: str, vectors: np.ndarray) -> None:
    ids = _ids(N)
    dense = DenseIndex.build(vectors, ids, _settings(kind))
    assert dense.supports_remove
    gone = [int(i) for i in ids[:10]]
    assert dense.remove([*gone, 12345]) == 10  # an unknown id is ignored
    assert dense.remove(gone) == 0
    assert dense.size == N - 10
    assert not set(gone) & set(dense.ids().tolist())
    for row in range(10):
        assert not {key for key, _ in dense.search(vectors[row], 50)} & set(gone)
    dense.add(vectors[:1], ids[:1])  # and an id can be added again after removal
    assert dense.search(vectors[0], 1)[0][0] == ids[0]


@pytest.mark.parametrize("kind", KINDS)
def test_an_index_filled_block_by_block_matches_one_built_at_once(
    kind: str, vectors: np.ndarray, tmp_path: Path
) -> None:
    ids, settings = _ids(N), _settings(kind)
    dense = DenseIndex.empty(vectors, settings)
    dense.reserve(N)
    storage = _float_storage(dense)
    start = None if storage is None else int(storage.codes.data())
    for lo in range(0, N, 500):
        dense.add(vectors[lo : lo + 500], ids[lo : lo + 500])
    if storage is not None:  # reserved: the blocks never moved the float storage
        assert int(storage.codes.data()) == start
    dense.save(tmp_path / "faiss.index")  # and the reserve left no padding in the file
    loaded = DenseIndex.load(tmp_path / "faiss.index", settings)
    assert loaded.size == N
    at_once = DenseIndex.build(vectors, ids, settings)
    for row in (0, 17, N - 1):
        found = [key for key, _ in loaded.search(vectors[row], 5)]
        assert found[0] == ids[row]
        if kind != "hnsw":  # the same training, so the same answers; a graph depends on order
            assert found == [key for key, _ in at_once.search(vectors[row], 5)]


def _float_storage(dense: DenseIndex) -> faiss.IndexFlatCodes | None:
    import faiss

    inner = dense._inner()
    if isinstance(inner, faiss.IndexHNSWFlat):
        inner = faiss.downcast_index(inner.storage)
    return inner if isinstance(inner, faiss.IndexFlatCodes) else None


def test_hnsw_cannot_remove(vectors: np.ndarray) -> None:
    dense = DenseIndex.build(vectors[:100], _ids(100), _settings("hnsw"))
    assert dense.supports_remove is False
    with pytest.raises(NotImplementedError, match="rebuild"):
        dense.remove([int(_ids(1)[0])])


def test_ivfpq_on_a_tiny_corpus_falls_back_to_flat(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="index.dense"):
        dense = DenseIndex.build(_vectors(300), _ids(300), _settings("ivfpq"))
    assert dense.kind == "flat"
    assert "instead of ivfpq" in caplog.text
    assert dense.search(_vectors(300)[5], 1)[0][0] == _ids(300)[5]


def test_ivf_list_count_is_clamped_to_the_training_points(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert ivf_lists(1_000_000, IndexSettings()) == 4000  # auto: 4·sqrt(n)
    assert ivf_lists(2000, IndexSettings()) == 51  # auto would be 179: too few points each
    with caplog.at_level(logging.WARNING, logger="index.dense"):
        assert ivf_lists(2000, IndexSettings(ivf_nlist=500)) == 51
    assert "ivf_nlist 500 is too many" in caplog.text


def test_pq_m_auto_is_two_dimensions_per_code() -> None:
    assert pq_subquantizers(512, IndexSettings()) == 256
    assert pq_subquantizers(384, IndexSettings()) == 192
    assert pq_subquantizers(512, IndexSettings(pq_m=64)) == 64


def test_a_pq_m_that_does_not_divide_the_dimension_is_a_clear_error(
    vectors: np.ndarray,
) -> None:
    with pytest.raises(DenseSettingsError) as error:
        DenseIndex.build(vectors, _ids(N), _settings("ivfpq", pq_m=7))
    message = str(error.value)
    assert "\n" not in message
    assert "pq_m=7" in message and "dimension 64" in message and "divisor" in message


@pytest.mark.parametrize(
    ("kind", "field", "param"),
    [("hnsw", "hnsw_ef_search", "efSearch"), ("ivfpq", "ivf_nprobe", "nprobe")],
)
def test_search_params_apply_after_load(
    kind: str, field: str, param: str, vectors: np.ndarray, tmp_path: Path
) -> None:
    DenseIndex.build(vectors, _ids(N), _settings(kind, **{field: 3})).save(tmp_path / "f.index")
    assert (
        DenseIndex.load(tmp_path / "f.index", _settings(kind, **{field: 7})).search_params[param]
        == 7
    )
    default = getattr(IndexSettings(), field)
    assert DenseIndex.load(tmp_path / "f.index").search_params[param] == default


def test_search_index_serves_an_hnsw_build(tmp_path: Path) -> None:
    settings = IndexSettings(dense="hnsw", hnsw_ef_search=40, bm25_mmap=True)
    embedder = HashEmbedder()
    build_index(FakeSource(corpus()), tmp_path, settings, embedder=embedder)
    index = SearchIndex.load(tmp_path, settings, embedder=embedder)
    assert index._dense.kind == "hnsw" and index._dense.search_params == {"efSearch": 40}
    assert index.search("ZeRO", k=3)
