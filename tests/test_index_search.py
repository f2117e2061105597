"""Build and search with the real USE embedder over a small zh/en corpus."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from test_index_support import FakeSource, HashEmbedder, corpus

from index import IndexSettings, SearchIndex, build_index, register_embedder
from index.embedders import UseEmbedder, unregister_embedder
from index.search import SearchMode
from ingest import Article


@pytest.fixture(scope="module")
def use() -> UseEmbedder:
    return UseEmbedder(threads=2)  # one load for the whole module


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory, use: UseEmbedder) -> SearchIndex:
    data_dir = tmp_path_factory.mktemp("data")  # built once: the tests below only read it
    settings = IndexSettings()
    build_index(FakeSource(corpus()), data_dir, settings, embedder=use)
    return SearchIndex.load(data_dir, settings, embedder=use)


@pytest.fixture
def fake_registered() -> Iterator[str]:
    register_embedder("fake-hash", lambda settings: HashEmbedder())
    yield "fake-hash"
    unregister_embedder("fake-hash")


def test_chinese_query_finds_the_chinese_article(index: SearchIndex) -> None:
    hits = index.search("训练时怎样把优化器状态分摊到多张显卡上以节省显存？", k=3)
    assert hits[0].chunk.url == "https://example.org/zero"


def test_english_query_finds_its_article_densely(index: SearchIndex) -> None:
    hits = index.search("How does vLLM avoid fragmentation of memory?", k=3)
    assert hits[0].chunk.url == "https://example.org/paged-attention"
    assert hits[0].dense > 0.3


def test_exact_identifier_found_by_bm25(index: SearchIndex) -> None:
    hits = index.search("CUDA_VISIBLE_DEVICES", k=3)
    assert hits[0].chunk.url == "https://example.org/multi-gpu"
    assert hits[0].lexical > 0
    assert all(h.lexical == 0 for h in hits[1:])  # no other chunk has the token


def test_hits_carry_ranks_scores_and_evidence(index: SearchIndex) -> None:
    hits = index.search("ZeRO-3", k=5)
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(-1.0 <= h.dense <= 1.0 and h.dense != 0.0 for h in hits)
    query = index.embed_query("ZeRO-3")
    assert query.shape == (512,)
    assert index.chunk_count == index.meta["chunks"]
    assert index.meta["embedder"] == "use-m3" and index.version


def test_blank_query_returns_nothing(index: SearchIndex) -> None:
    assert index.search("") == []
    assert index.search("  \n ") == []


def test_concurrent_reads_agree(index: SearchIndex) -> None:
    queries = ["量化", "KV cache", "LoRA adapters", "旋转位置编码", "NCCL rings"] * 2
    expected = [[h.chunk.chunk_id for h in index.search(q)] for q in queries]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda q: [h.chunk.chunk_id for h in index.search(q)], queries))
    assert got == expected


def test_progress_reports_each_stage(tmp_path: Path, use: UseEmbedder) -> None:
    calls: list[tuple[str, int, int]] = []
    report = build_index(
        FakeSource(corpus()),
        tmp_path,
        IndexSettings(),
        embedder=use,
        progress=lambda stage, done, total: calls.append((stage, done, total)),
    )
    assert {c[0] for c in calls} == {"chunk", "embed", "tokenize"}  # too few for an adapter
    assert ("chunk", 6, 6) in calls
    assert ("embed", report.chunks, report.chunks) in calls
    assert report.articles == 6 and report.bytes > 0 and report.path.is_dir()


def test_per_article_collapse(tmp_path: Path, fake_registered: str) -> None:
    long_text = "\n\n".join(f"## Part {i}\n\nAlpha beta gamma note number {i}." for i in range(8))
    articles = [
        Article(url="https://example.org/long", title="Long", text=long_text, id=1),
        Article(url="https://example.org/short", title="Short", text="Alpha beta once.", id=2),
    ]
    for per_article in (1, 2, 3):
        settings = IndexSettings(embedder=fake_registered, per_article=per_article)
        build_index(FakeSource(articles), tmp_path, settings)
        hits = SearchIndex.load(tmp_path, settings).search("alpha beta", k=8)
        long_hits = [h for h in hits if h.chunk.article_id == 1]
        assert len(long_hits) == per_article
        assert any(h.chunk.article_id == 2 for h in hits)


def test_navigation_chunks_rank_below_content(tmp_path: Path, fake_registered: str) -> None:
    words = ("guide", "notes", "code")
    links = "\n".join(f"- [DPO preference {w}](https://{w}.example/dpo)" for w in words)
    articles = [
        Article(url="https://example.org/links", title="Links", text=links, id=1),
        Article(
            url="https://example.org/dpo",
            title="Direct optimization",
            text="DPO fits a preference loss directly, with no separate reward model to train.",
            id=2,
        ),
    ]
    first = _top_url(tmp_path, articles, fake_registered, "navigation_penalty", "DPO preference")

    assert first(1.0) == "https://example.org/links"  # undemoted, the link list wins
    assert first(0.5) == "https://example.org/dpo"
    assert first(0.5, "lexical") == "https://example.org/links"  # single retrievers stay pure


def test_chunks_naming_the_code_identifier_rank_first(tmp_path: Path, fake_registered: str) -> None:
    articles = [
        Article(
            url="https://example.org/timeouts",
            title="Connect timeout",
            text="How long a cluster waits to connect: the connect timeout, in seconds, for "
            "every cluster connect.",
            id=1,
        ),
        Article(
            url="https://example.org/hccl",
            title="Ascend setup",
            text="Set HCCL_CONNECT_TIMEOUT=1200 before launching on Ascend machines.",
            id=2,
        ),
    ]
    query = "How long should the cluster connect timeout `HCCL_CONNECT_TIMEOUT` be?"
    first = _top_url(tmp_path, articles, fake_registered, "identifier_boost", query)

    assert first(1.0) == "https://example.org/timeouts"  # off: the wordier chunk wins
    assert first(2.0) == "https://example.org/hccl"
    assert first(2.0, "dense") == "https://example.org/timeouts"  # single retrievers stay pure


def _top_url(
    data_dir: Path, articles: list[Article], embedder: str, setting: str, query: str
) -> Callable[..., str]:
    """Index `articles` once; the returned first(value, mode) is the top hit's URL with
    `setting` at that value."""
    settings = IndexSettings(embedder=embedder)
    build_index(FakeSource(articles), data_dir, settings)

    def first(value: float, mode: SearchMode = "hybrid") -> str:
        tuned = settings.model_copy(update={setting: value})
        return SearchIndex.load(data_dir, tuned).search(query, k=2, mode=mode)[0].chunk.url

    return first
