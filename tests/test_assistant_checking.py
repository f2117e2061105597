"""The citation checker on hand-written answers: kept, moved, dropped, flagged."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from assistant.checking import check_citations, content_units, embedding_scorer, identifiers
from index import Chunk, Embedder

INTRO = "前言：这是一篇关于大模型训练与推理的笔记。\n"
TEXTS = [
    "ZeRO-3 会把模型参数、梯度和优化器状态都切分到所有 GPU 上。"
    "前向计算时再通过 all-gather 收集完整参数。",
    "PagedAttention splits the KV cache into fixed-size blocks. This removes memory "
    "fragmentation and lets vLLM serve more requests at once.",
    "LoRA freezes the pretrained weights and trains two low-rank matrices. "
    "The rank is usually 8 or 16.",
    "设置 CUDA_VISIBLE_DEVICES=0,1 可以只使用前两张 GPU。上下文长度设为 4096 时显存占用明显增加。",
    "FlashAttention 通过分块计算注意力，减少了对显存的读写次数，因此速度更快。",
]
# One article per passage, each passage after an intro line so offsets are not zero.
ARTICLES = [INTRO + text + "\n结尾。" for text in TEXTS]
CHUNKS = [
    Chunk(f"c{i}", i, f"https://example.org/a{i}", f"Article {i}", "", text, len(INTRO),
          len(INTRO) + len(text))
    for i, text in enumerate(TEXTS, start=1)
]  # fmt: skip


def test_a_correct_chinese_citation_is_kept_with_quote_offsets_and_link() -> None:
    answer = "ZeRO-3 会把模型参数、梯度和优化器状态切分到所有 GPU 上[1]。"
    result = check_citations(answer, CHUNKS)
    assert result.text == answer
    assert result.unsupported == result.dropped == result.moved == []
    [citation] = result.citations
    assert citation.n == 1 and citation.chunk_id == "c1"
    assert citation.quote == "ZeRO-3 会把模型参数、梯度和优化器状态都切分到所有 GPU 上。"
    assert citation.start is not None and citation.end is not None
    assert ARTICLES[0][citation.start : citation.end] == citation.quote
    link, _, fragment = citation.fragment_url.partition("#:~:text=")
    assert link == "https://example.org/a1"
    assert unquote(fragment) == citation.quote


def test_an_english_citation_of_the_wrong_passage_moves_to_the_right_one() -> None:
    result = check_citations(
        "PagedAttention splits the KV cache into fixed-size blocks [3].", CHUNKS
    )
    assert result.text == "PagedAttention splits the KV cache into fixed-size blocks [2]."
    assert result.moved == [(3, 2)]
    assert [c.n for c in result.citations] == [2]
    assert result.citations[0].quote == "PagedAttention splits the KV cache into fixed-size blocks."


def test_a_hallucinated_marker_is_dropped() -> None:
    result = check_citations("The moon is made of green cheese [7].", CHUNKS)
    assert result.dropped == [7]
    assert "[7]" not in result.text and result.citations == []
    assert result.unsupported == ["The moon is made of green cheese."]


def test_an_out_of_range_marker_on_a_supported_claim_goes_to_its_passage() -> None:
    result = check_citations("LoRA freezes the pretrained weights [7].", CHUNKS)
    assert result.dropped == [7]
    assert result.text == "LoRA freezes the pretrained weights [3]."
    assert [c.chunk_id for c in result.citations] == ["c3"]


@pytest.mark.parametrize(
    "claim",
    [
        "ZeRO-3 was invented in 1990 by a team at NASA.",  # uncited and made up
        "Mixtral routes every token to eight experts [2].",  # cited, but [2] says nothing of it
        "The LoRA rank is usually 64 [3].",  # the passage says 8 or 16: a wrong number
        "混合专家模型把每个词元路由到两个专家[5]。",
    ],
)
def test_an_unsupported_claim_is_flagged_and_never_cited(claim: str) -> None:
    result = check_citations(f"LoRA trains two low-rank matrices [3]. {claim}", CHUNKS)
    assert [c.n for c in result.citations] == [3]
    assert len(result.unsupported) == 1 and "[" not in result.unsupported[0]
    assert result.text.startswith("LoRA trains two low-rank matrices [3]. ")
    assert result.text.count("[") == 1  # the unsupported sentence lost its marker


def test_identifiers_and_numbers_support_a_mixed_language_claim() -> None:
    answer = "设置 CUDA_VISIBLE_DEVICES=0,1 只用前两张 GPU[4]；长度为 4096 时显存占用更多[4]。"
    result = check_citations(answer, CHUNKS)
    assert result.unsupported == [] and result.text == answer
    assert {c.n for c in result.citations} == {4}
    assert identifiers(answer) >= {"cuda_visible_devices", "4096"}


def test_an_uncited_supported_claim_gets_its_source_and_lists_keep_their_layout() -> None:
    answer = "要点：\n- ZeRO-3 把参数切分到所有 GPU 上\n- vLLM removes memory fragmentation [2]\n"
    result = check_citations(answer, CHUNKS)
    assert result.text == (
        "要点：\n- ZeRO-3 把参数切分到所有 GPU 上[1]\n- vLLM removes memory fragmentation [2]\n"
    )
    assert [c.n for c in result.citations] == [1, 2] and result.unsupported == []


def test_several_markers_on_one_sentence_each_keep_their_passage() -> None:
    answer = (
        "PagedAttention splits the KV cache into blocks [2] and LoRA trains low-rank matrices [3]."
    )
    result = check_citations(answer, CHUNKS)
    assert result.text == answer and [c.n for c in result.citations] == [2, 3]


def test_no_passages_flags_every_claim() -> None:
    result = check_citations("ZeRO-3 shards the parameters [1].", [])
    assert result.dropped == [1] and result.citations == []
    assert result.unsupported == ["ZeRO-3 shards the parameters."]


def test_content_units_are_bigrams_for_chinese_and_words_for_english() -> None:
    assert content_units("切分参数") == {"切分", "分参", "参数"}
    assert content_units("The blocks of memory") == {"block", "memory"}


def test_an_embedding_scorer_rescues_a_cross_lingual_paraphrase(use: Embedder) -> None:
    claim = "It computes attention in tiles and so reads and writes GPU memory less often [5]."
    assert check_citations(claim, CHUNKS).unsupported  # words alone cannot see it
    result = check_citations(claim, CHUNKS, scorer=embedding_scorer(use))
    assert result.unsupported == [] and [c.n for c in result.citations] == [5]
