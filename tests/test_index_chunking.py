"""Chunking: exact offsets, sentence boundaries, whole code blocks and tables, heading paths."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace

import pytest

from index import Chunk, IndexSettings, chunk_article
from index.address import address_words
from index.chunking import embed_text, lexical_text
from ingest import Article

ZH_SENTENCES = "".join(
    f"第{i}句讲的是张量并行如何把矩阵乘法切开{'。！？；'[i % 4]}" for i in range(40)
)
EN_SENTENCES = " ".join(
    f"Sentence {i} explains how pipeline parallelism splits layers{'.!?'[i % 3]}" for i in range(40)
)
CODE = "```python\n" + "\n".join(f"x_{i} = compute({i})  # step {i}" for i in range(12)) + "\n```"
TABLE = "| model | params |\n|---|---|\n" + "\n".join(f"| m{i} | {i}B |" for i in range(12))

DOC = f"""# Parallelism notes

Intro paragraph. It has two sentences.

## 张量并行

{ZH_SENTENCES}

## Pipeline

{EN_SENTENCES}

### Code

{CODE}

### Table

{TABLE}
"""


def _article(text: str = DOC, title: str = "Parallelism notes") -> Article:
    return Article(url="https://example.org/notes", title=title, text=text, id=7, topic="训练")


def _chunks(size: int = 300, overlap: int = 60, text: str = DOC) -> list[Chunk]:
    return chunk_article(_article(text), IndexSettings(chunk_size=size, chunk_overlap=overlap))


@pytest.mark.parametrize(("size", "overlap"), [(100, 0), (300, 60), (800, 200)])
def test_offsets_are_exact_and_sizes_bounded(size: int, overlap: int) -> None:
    chunks = _chunks(size, overlap)
    assert chunks
    for chunk in chunks:
        assert DOC[chunk.start : chunk.end] == chunk.text
        assert chunk.text == chunk.text.strip()
        assert len(chunk.text) <= size
        assert (chunk.article_id, chunk.topic) == (7, "训练")
        assert chunk.url == "https://example.org/notes"


def test_every_sentence_is_covered() -> None:
    covered = set()
    for chunk in _chunks(200, 40):
        covered.update(range(chunk.start, chunk.end))
    for i in range(40):
        sentence = f"Sentence {i} explains"
        assert DOC.index(sentence) in covered


def test_prose_chunks_end_at_sentence_boundaries() -> None:
    chunks = [c for c in _chunks(200, 40) if c.heading in ("张量并行", "Pipeline")]
    assert len(chunks) > 6
    for chunk in chunks:
        assert chunk.text[-1] in "。！？；.!?", chunk.text
        assert chunk.text[0] in "第S", chunk.text  # starts at a sentence start too


def test_overlap_repeats_the_tail_of_the_previous_chunk() -> None:
    chunks = [c for c in _chunks(200, 80) if c.heading == "Pipeline"]
    assert any(b.start < a.end for a, b in itertools.pairwise(chunks))


def test_code_block_and_table_kept_whole_when_they_fit() -> None:
    chunks = _chunks(600, 60)
    assert any(c.text == CODE for c in chunks)
    assert any(c.text == TABLE for c in chunks)


def test_oversized_code_block_splits_at_line_ends() -> None:
    chunks = [c for c in _chunks(150, 0) if c.heading.endswith("Code")]
    assert len(chunks) > 1
    assert "".join(c.text + "\n" for c in chunks).strip() == CODE
    for chunk in chunks[:-1]:
        assert DOC[chunk.end] == "\n"  # cut at a line end, never inside a line


def test_heading_paths_skip_the_title_and_nest() -> None:
    headings = {c.heading for c in _chunks()}
    assert headings == {"", "张量并行", "Pipeline", "Pipeline > Code", "Pipeline > Table"}


def test_headings_inside_code_fences_are_not_headings() -> None:
    text = "## Real\n\nSome text here.\n\n```bash\n# not a heading\necho hi\n```\n"
    chunks = _chunks(text=text)
    assert {c.heading for c in chunks} == {"Real"}
    assert any("# not a heading" in c.text for c in chunks)


def test_chunk_ids_are_stable_and_unique() -> None:
    first, second = _chunks(), _chunks()
    assert [c.chunk_id for c in first] == [c.chunk_id for c in second]
    assert len({c.chunk_id for c in first}) == len(first)
    assert all(len(c.chunk_id) == 16 for c in first)


def test_embed_text_prepends_address_title_and_heading() -> None:
    chunk = next(c for c in _chunks() if c.heading == "Pipeline > Code")
    assert embed_text(chunk) == f"notes\nParallelism notes > Pipeline > Code\n{chunk.text}"
    assert lexical_text(chunk) == f"notes\n{embed_text(chunk)}"  # address words count twice
    opaque = replace(chunk, url="https://zhuanlan.zhihu.com/p/647843722")
    assert embed_text(opaque) == f"Parallelism notes > Pipeline > Code\n{chunk.text}"
    assert lexical_text(opaque) == embed_text(opaque)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        (
            "https://github.com/o/r/blob/main/llm-compression/quantization/llm-qat/LLM-QAT.md",
            "llm-compression quantization llm-qat LLM-QAT",
        ),
        (  # percent-encoded Chinese file names are decoded; README says nothing
            "https://github.com/o/r/blob/master/cuda/%E8%A7%84%E7%BA%A6/README.md",
            "cuda 规约",
        ),
        ("https://github.com/o/r/blob/main/docs/llm-peft/MAM_Adapter.md", "llm-peft MAM Adapter"),
        (
            "https://github.com/o/r/blob/main/llm-algo/deepseek/DeepSeek-R1.md",
            "llm-algo deepseek DeepSeek-R1",
        ),
        ("https://github.com/vllm-project/vllm", "vllm-project vllm"),
        ("https://zhuanlan.zhihu.com/p/647843722", ""),  # ids name nothing
        ("https://mp.weixin.qq.com/s/3GZvbu5Pk9gN5S8xUvq1Yw", ""),
        ("https://juejin.cn/post/7301234567890?from=x", ""),
        ("https://example.com/fp8-training/index.html", "fp8-training"),
    ],
)
def test_address_words(url: str, words: str) -> None:
    assert address_words(url) == words


def test_long_sentence_without_punctuation_is_hard_split() -> None:
    text = "".join(chr(0x4E00 + i) for i in range(1000))  # no punctuation, no repeats
    chunks = _chunks(200, 0, text=text)
    assert "".join(c.text for c in chunks) == text
    assert all(len(c.text) <= 200 for c in chunks)


def test_article_without_id_is_refused() -> None:
    with pytest.raises(ValueError, match="no id"):
        chunk_article(Article(url="u", title="t", text="x."), IndexSettings())


def _random_markdown(rng: random.Random) -> str:
    """Mixed zh/en markdown with headings, lists, fences, tables and run-on lines."""
    pieces = [
        lambda: f"\n{'#' * rng.randint(1, 4)} 标题 {rng.randint(0, 99)}\n",
        lambda: "".join(rng.choices("模型并行显存梯度量化推理，。！？ ", k=rng.randint(5, 400))),
        lambda: " ".join(rng.choices(["KV", "cache.", "LoRA", "rank!", "x", "y?"], k=60)),
        lambda: "\n```\n" + "\n".join("code " * rng.randint(1, 30) for _ in range(8)) + "\n```\n",
        lambda: "\n" + "\n".join(f"| a{i} | {'b' * rng.randint(1, 90)} |" for i in range(6)),
        lambda: "\n- item " + "一" * rng.randint(1, 700) + "\n",
        lambda: "\n\n",
    ]
    return "".join(rng.choice(pieces)() for _ in range(rng.randint(5, 40)))


@pytest.mark.parametrize("seed", range(25))
def test_random_documents_keep_the_chunk_invariants(seed: int) -> None:
    rng = random.Random(seed)
    text = _random_markdown(rng)
    size = rng.choice([100, 250, 600, 1000])
    overlap = rng.choice([0, 40, size // 2])
    chunks = _chunks(size, overlap, text)
    assert chunks or not text.strip()
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text  # offsets map back exactly
        assert 0 < len(chunk.text) <= size  # no chunk over its limit
    starts = [c.start for c in chunks]
    assert starts == sorted(starts)
    assert len({c.chunk_id for c in chunks}) == len(chunks)
