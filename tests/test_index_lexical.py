"""Lexical side: mixed zh/en tokenization and BM25 ranking."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from index.lexical import LexicalIndex, query_tokens, tokenize


def test_identifiers_survive_whole_and_lowercased() -> None:
    tokens = tokenize("Set CUDA_VISIBLE_DEVICES before ZeRO-3, see v2.0 and C++.")
    for token in ("cuda_visible_devices", "zero-3", "v2.0", "c++"):
        assert token in tokens
    assert "zero" in tokens and "3" in tokens  # parts too, so "ZeRO" alone matches
    assert all(t == t.lower() for t in tokens)


def test_chinese_uses_search_mode_and_llm_terms() -> None:
    tokens = tokenize("大模型推理时KV cache占用显存，张量并行可以缓解。")
    for token in ("大模型", "模型", "推理", "kv", "cache", "显存", "张量并行", "张量", "并行"):
        assert token in tokens, token
    assert "，" not in tokens and "。" not in tokens
    assert "的" not in tokenize("显存的占用")


def test_query_tokens_drop_chinese_question_words_only() -> None:
    question = "为什么张量并行能减少显存？怎么做？"
    assert {"为什么", "怎么", "能"} <= set(tokenize(question))  # documents keep them
    assert query_tokens(question) == ["张量", "并行", "张量并行", "减少", "显存"]
    assert query_tokens("What is ZeRO-3?") == tokenize("What is ZeRO-3?")


def test_punctuation_and_whitespace_dropped() -> None:
    assert tokenize("  ——！？ ... \n\t") == []
    assert tokenize("") == []


def test_bm25_ranks_exact_identifier_first(tmp_path: Path) -> None:
    docs = [
        "显存优化：ZeRO-3 切分参数。",
        "Set CUDA_VISIBLE_DEVICES to pick GPUs.",
        "LoRA trains low-rank adapters.",
    ]
    index = LexicalIndex.build([tokenize(d) for d in docs])
    index.save(tmp_path / "bm25")
    loaded = LexicalIndex.load(tmp_path / "bm25")
    for model in (index, loaded):
        assert model.search(tokenize("CUDA_VISIBLE_DEVICES"), 3)[0][0] == 1
        assert model.search(tokenize("zero-3 怎么切分"), 3)[0][0] == 0
        assert model.search(tokenize("完全无关 unrelatedword"), 3) == []


def test_memory_mapped_load_ranks_the_same(tmp_path: Path) -> None:
    import numpy as np

    docs = [f"doc {i} about topic{i % 7} and ZeRO-{i % 3}" for i in range(200)]
    LexicalIndex.build([tokenize(d) for d in docs]).save(tmp_path / "bm25")
    in_ram = LexicalIndex.load(tmp_path / "bm25")
    mapped = LexicalIndex.load(tmp_path / "bm25", mmap=True)
    assert isinstance(mapped._model.scores["data"], np.memmap)  # type: ignore[attr-defined]
    for query in ("topic3 zero-2", "doc 17", "nothing"):
        assert mapped.search(tokenize(query), 10) == in_ram.search(tokenize(query), 10)


def test_token_ids_rank_exactly_as_bm25s_does_from_strings() -> None:
    """The build hands bm25s int ids from a TokenTable instead of token strings; the scores
    of every document must not change by a bit, whatever the ids' numbering."""
    import bm25s
    import numpy as np

    from index.tokens import TokenTable

    docs = [f"文档 {i} 讲 topic{i % 7} 和 ZeRO-{i % 3}，张量并行 v{i % 5}.0" for i in range(300)]
    rows = [tokenize(d) for d in docs] + [[]]  # a chunk may have no tokens at all
    table = TokenTable.of(rows)
    assert list(table) == rows  # tokens.jsonl is written back from the ids
    assert table.words[:3] == rows[0][:3]  # numbered by first appearance, not hash order
    ours = LexicalIndex.build(table)
    strings = bm25s.BM25()
    strings.index(rows, show_progress=False)
    model: Any = ours._model
    for query in ("topic3 zero-2", "张量并行 v4.0", "文档 17 zero"):
        tokens = tokenize(query)
        want = strings.get_scores([strings.vocab_dict[t] for t in tokens])
        got = model.get_scores([model.vocab_dict[t] for t in tokens])
        assert want.max() > 0 and np.array_equal(got, want), query
