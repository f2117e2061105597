"""The extractive answerer: sentence choice, citations, abstention, language."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from test_assistant_corpus import ARTICLES

from assistant import AnswerSettings
from assistant.answerers import (
    ExtractiveAnswerer,
    candidate_sentences,
    has_evidence,
    sentence_spans,
)
from assistant.citations import quote_span, resolve_markers, verify_citation
from assistant.prompts import NO_ANSWER, question_language
from assistant.types import Citation
from index import Chunk, Embedder, Hit


class CountingEmbedder:
    """Wraps a real embedder and counts calls, to prove abstention calls nothing."""

    def __init__(self, inner: Embedder) -> None:
        self.inner, self.id, self.dim, self.calls = inner, inner.id, inner.dim, 0

    def embed_batch(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        self.calls += 1
        return self.inner.embed_batch(texts, query=query)


@pytest.fixture(scope="module")
def chunks() -> list[Chunk]:
    return [
        Chunk(f"c{a.id}", a.id or 0, a.url, a.title, "", a.text, 0, len(a.text), a.topic)
        for a in ARTICLES
    ]


def ranked_hits(embedder: Embedder, chunks: list[Chunk], question: str) -> list[Hit]:
    """Hits ordered by cosine similarity, as the search index would rank them densely."""
    vectors = embedder.embed_batch([c.title + "\n" + c.text for c in chunks])
    sims = vectors @ embedder.embed_batch([question], query=True)[0]
    order = np.argsort(-sims)
    return [Hit(chunks[j], 1 / (61 + r), r + 1, float(sims[j])) for r, j in enumerate(order)]


def test_sentence_spans_split_chinese_and_english_and_trim_markup() -> None:
    text = "# Title\n- First point. Second one!\n中文第一句。第二句？\n"
    pieces = [text[s:e] for s, e in sentence_spans(text)]
    assert pieces == ["# Title", "First point.", "Second one!", "中文第一句。", "第二句？"]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What does PagedAttention solve?", "PagedAttention solves the memory fragmentation"),
        ("ZeRO-3 怎么切分参数？", "ZeRO-3 会把模型参数、梯度和优化器状态都切分"),
        ("How long should I knead the dough?", "Knead the dough for about ten minutes"),
    ],
)
def test_answer_picks_the_relevant_sentence_and_cites_it(
    use: Embedder, chunks: list[Chunk], question: str, expected: str
) -> None:
    hits = ranked_hits(use, chunks, question)
    answer = ExtractiveAnswerer(use, AnswerSettings()).invoke({"question": question, "hits": hits})
    assert not answer.abstained
    assert expected in answer.text
    cited = next(c for c in answer.citations if expected in c.quote)
    assert f"[{cited.n}]" in answer.text
    source = next(a for a in ARTICLES if a.url == cited.url)
    assert cited.quote in source.text and cited.title == source.title
    numbers = sorted({c.n for c in answer.citations})
    assert numbers == list(range(1, len(numbers) + 1))
    assert all(c.quote in answer.text for c in answer.citations)


@pytest.mark.parametrize("question", ["What is the capital of France?", "量子计算机如何纠错？"])
def test_off_topic_question_abstains_without_any_call(
    use: Embedder, chunks: list[Chunk], question: str
) -> None:
    hits = ranked_hits(use, chunks, question)
    counting = CountingEmbedder(use)
    answer = ExtractiveAnswerer(counting, AnswerSettings()).invoke(
        {"question": question, "hits": hits}
    )
    assert answer.abstained and answer.citations == []
    assert answer.text == NO_ANSWER[question_language(question)]
    assert counting.calls == 0
    assert answer.passages == hits


def test_no_hits_abstains_in_the_question_language(use: Embedder) -> None:
    answerer = ExtractiveAnswerer(use, AnswerSettings())
    assert answerer.invoke({"question": "张量并行是什么？", "hits": []}).text == NO_ANSWER["zh"]
    assert answerer.invoke({"question": "What is LoRA?", "hits": []}).text == NO_ANSWER["en"]


def test_sentences_in_code_blocks_are_never_quoted(use: Embedder) -> None:
    text = (
        "# Setup\n```python\n# PagedAttention solves fragmentation of memory in this code\n"
        "x = 1\n```\nPagedAttention solves fragmentation of the KV cache memory in vLLM.\n"
    )
    chunk = Chunk("x", 9, "https://example.org/x", "X", "", text, 0, len(text))
    answer = ExtractiveAnswerer(use, AnswerSettings(min_similarity=-1.0)).invoke(
        {"question": "What does PagedAttention solve?", "hits": [Hit(chunk, 1.0, 1, 0.9)]}
    )
    assert answer.citations and all("x = 1" not in c.quote for c in answer.citations)
    assert answer.citations[0].quote == (
        "PagedAttention solves fragmentation of the KV cache memory in vLLM."
    )


def test_citation_helpers_locate_quotes_and_drop_unknown_markers() -> None:
    text = "Intro line.\nThe quoted sentence is here."
    chunk = Chunk("c", 1, "https://example.org/a", "A", "", text[12:], 12, len(text))
    good = Citation(1, chunk.url, "A", "The quoted sentence", "c")
    assert quote_span(good.quote, chunk) == (12, 31)
    assert verify_citation(good, chunk, article_text=text)
    assert not verify_citation(Citation(1, chunk.url, "A", "not there", "c"), chunk)
    assert resolve_markers("One [1]. Two [7].", [good]) == "One [1]. Two."


@pytest.mark.parametrize(
    "line",
    [
        "last_dim_size = tensor.size()[last_dim] // num_partitions",
        "Tensor Parallelism: Detailed Analysis(https://insujang.github.io/2024/tp/)",
        "[如何使用 Megatron-LM 训练语言模型](https://huggingface.co/blog)：数据预处理，训练",
        "make: Leaving directory '/workspace/code/Megatron-LM/megatron/data'",
        "这张页面提出了四个基本问题：“这是什么？”",
        "tensor_model_parallel_size ...................... 2",
        "FlashAttention",
    ],
)
def test_code_links_logs_questions_and_fragments_are_not_answer_sentences(line: str) -> None:
    chunk = Chunk("n", 1, "https://example.org/n", "N", "", line, 0, len(line))
    assert candidate_sentences([Hit(chunk, 1.0, 1, 0.9)]) == []


def test_jargon_in_a_passage_rescues_a_cross_lingual_question() -> None:
    text = "vLLM 通过 PagedAttention 高效地管理 attention 中缓存的张量，吞吐量提高很多。"
    chunk = Chunk("j", 1, "https://example.org/j", "J", "", text, 0, len(text))
    assert has_evidence("What does PagedAttention solve?", [Hit(chunk, 1.0, 1, 0.2)], 0.3)
    assert not has_evidence("What does PagedAttention solve?", [Hit(chunk, 1.0, 1, 0.1)], 0.3)
    assert not has_evidence("Who won the 1998 world cup?", [Hit(chunk, 1.0, 1, 0.2)], 0.3)


def test_extractive_citations_carry_article_offsets_and_a_fragment_link(
    use: Embedder,
) -> None:
    article = "Intro line.\nPagedAttention solves fragmentation of the KV cache memory in vLLM.\n"
    chunk = Chunk("o", 3, "https://example.org/o", "O", "", article[12:], 12, len(article))
    answer = ExtractiveAnswerer(use, AnswerSettings(min_similarity=-1.0)).invoke(
        {"question": "What does PagedAttention solve?", "hits": [Hit(chunk, 1.0, 1, 0.9)]}
    )
    cited = answer.citations[0]
    assert cited.start is not None and cited.end is not None
    assert article[cited.start : cited.end] == cited.quote
    assert cited.fragment_url.startswith("https://example.org/o#:~:text=PagedAttention")
    assert answer.to_dict()["citations"][0]["start"] == cited.start
