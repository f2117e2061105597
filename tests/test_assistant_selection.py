"""Extractive sentence choice: which sentence answers, code noise, commands, order.

Real USE embeddings and the bundled glossary on small hand-written passages.
"""

from __future__ import annotations

import numpy as np
import pytest

from assistant import AnswerSettings
from assistant.answerers import ExtractiveAnswerer
from assistant.selection import Question, coverage
from assistant.sentences import candidate_sentences, command_lines, looks_like_code
from index import Chunk, Embedder, Glossary, Hit

OCCUPANCY = (
    "例如，在计算能力7.0的设备上，考虑一个使用128线程块、每个线程使用37个寄存器的 kernel。"
    "因为一个128线程块包含4个线程束，我们最多可以运行12个线程块，理论 occupancy 为 75%。"
)


def _hits(*texts: str, dense: float = 0.6) -> list[Hit]:
    out = []
    for n, text in enumerate(texts, 1):
        chunk = Chunk(f"c{n}", n, f"https://example.org/{n}", f"T{n}", "", text, 10, 10 + len(text))
        out.append(Hit(chunk, 1 / (60 + n), n, dense, 5.0))
    return out


def _answer(use: Embedder, question: str, hits: list[Hit]) -> list[str]:
    answerer = ExtractiveAnswerer(use, AnswerSettings(min_similarity=0.1), Glossary.load())
    answer = answerer.invoke({"question": question, "hits": hits})
    assert not answer.abstained
    return [c.quote for c in answer.citations]


def test_question_profile_reads_what_is_asked() -> None:
    number = Question.parse("一个 block 128 个线程，理论 occupancy 是多少？")
    assert number.wants_number and not number.wants_reason and "128" in number.numbers
    reason = Question.parse("Why does FP6 beat INT4 on small models?")
    assert reason.wants_reason and not reason.wants_number
    plain = Question.parse("What is LoRA?")
    assert not plain.wants_number and not plain.wants_reason


def test_glossary_names_cover_an_english_question_over_chinese_text() -> None:
    question = "How does the KV cache raise throughput?"
    with_glossary = Question.parse(question, Glossary.load())
    without = Question.parse(question)
    text = "分页管理键值缓存可以把吞吐量提高数倍。"
    assert coverage(without, text, np.ones(len(without.concepts))) == 0.0
    assert coverage(with_glossary, text, np.ones(len(with_glossary.concepts))) > 0.0


def test_the_sentence_with_the_asked_number_beats_the_one_restating_the_question(
    use: Embedder,
) -> None:
    question = "在算力 7.0 的卡上，一个 block 128 个线程、每线程用 37 个寄存器，occupancy 是多少？"
    answerer = ExtractiveAnswerer(use, AnswerSettings(min_similarity=0.1, max_sentences=1))
    answer = answerer.invoke({"question": question, "hits": _hits(OCCUPANCY)})
    assert [c.quote for c in answer.citations] == [OCCUPANCY.split("。")[1] + "。"]


def test_a_why_question_prefers_the_sentence_giving_the_reason(use: Embedder) -> None:
    text = (
        "优化器对每个参数都要调用多个逐元素操作。"
        "这是因为每次启动 CUDA kernel 都有固定开销，把操作合并到更少的 kernel 中就能减少这些开销。"
        "PyTorch 2.0 引入了 foreach 实现。"
    )
    answerer = ExtractiveAnswerer(use, AnswerSettings(min_similarity=0.1, max_sentences=1))
    answer = answerer.invoke(
        {"question": "为什么把优化器的逐元素操作合并成少量 kernel 能提速？", "hits": _hits(text)}
    )
    assert [c.quote for c in answer.citations] == [
        "这是因为每次启动 CUDA kernel 都有固定开销，把操作合并到更少的 kernel 中就能减少这些开销。"
    ]


@pytest.mark.parametrize(
    "line",
    [
        "float const block_sum{thread_block_reduce_sum_v1<NUM_THREADS>(",
        "crossentropy_forward_kernel1<<<grid_size, block_size>>>(",
        "size_t const to_idx{j * M + i};  // 输出矩阵的线性索引（转置后的位置）",
        "--cache-max-entry-count CACHE_MAX_ENTRY_COUNT",
        '"stage3_gather_16bit_weights_on_model_save": true',
        "iteration 100/ 5000 | consumed samples: 800 | elapsed time per iteration (ms): 296.8",
        "matrix_a_transpose_col_major_ld, matrix_b_col_major_ld,",
    ],
)
def test_code_out_of_a_fence_is_no_answer_sentence(line: str) -> None:
    assert looks_like_code(line)
    assert candidate_sentences(_hits(line)) == []


@pytest.mark.parametrize(
    "line",
    [
        "则以1-p(x)/q(x)为概率拒绝这个token的生成，从新的分布norm(max(0, p(x) − q(x)))中重新采样。",
        "用户只需要在NVCC编译器构建标志中指定`--default-stream per-thread`，而无需更改程序。",
        "在 128K 上下文长度下使用量化 KV 缓存，Llama 3.1 8B 推理的峰值 VRAM 减少 73%",
    ],
)
def test_prose_with_formulas_or_inline_code_stays_a_candidate(line: str) -> None:
    assert not looks_like_code(line)
    assert [c.text for c in candidate_sentences(_hits(line))] == [line]


def test_a_passage_of_commands_answers_with_the_command_naming_the_tool(use: Embedder) -> None:
    text = (
        "GGUF量化格式\n\n```\npip install 'llama-cpp-python[server]'\n"
        "python3 -m llama_cpp.server --model $MODEL\nx = 1\n```\n"
    )
    hits = _hits(text)
    assert [c.text for c in command_lines(hits, {"llama-cpp-python"})] == [
        "pip install 'llama-cpp-python[server]'"
    ]
    answerer = ExtractiveAnswerer(use, AnswerSettings(min_similarity=0.1))
    answer = answerer.invoke(
        {"question": "How do I serve a GGUF model over HTTP with llama-cpp-python?", "hits": hits}
    )
    assert not answer.abstained
    cited = answer.citations[0]
    assert cited.quote == "pip install 'llama-cpp-python[server]'"
    assert cited.start is not None and text[cited.start - 10 : cited.end - 10] == cited.quote


def test_the_answer_opens_with_the_article_that_answers_best(use: Embedder) -> None:
    off = "张量并行在很多框架里都有实现，Megatron-LM 是最早的一个。"
    best = "LoRA 初始化时 A 用高斯分布，B 用零矩阵，所以训练开始时 BA 为零，不改变原模型输出。"
    quotes = _answer(use, "LoRA 的 A、B 矩阵怎么初始化？", _hits(off, best))
    assert quotes[0] == best
