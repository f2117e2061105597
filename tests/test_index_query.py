"""Query analysis and filter resolution: pure functions, no models."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from index import Glossary, analyze, is_small_talk, query_language, site_host
from index.filters import ChunkFilter
from index.query import identifiers
from index.types import Chunk


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("How does ZeRO-3 shard parameters?", "en"),
        ("张量并行怎么切分权重？", "zh"),
        ("ZeRO-3 怎么切分参数？", "zh"),  # a Chinese question about an English term
        ("CUDA_VISIBLE_DEVICES", "en"),
        ("", "en"),
        # identifiers and code spans are in no language: the question's words decide
        ("`cooperative_groups::this_grid().block_rank()` 在批量规约 kernel 里用来做什么？", "zh"),
        ("torch.compile 和 CUDA Graph 一起用要注意什么", "zh"),
        ("What does `torch.library.opcheck` check?", "en"),
        ("In the torch.compile tutorial, what is a graph break?", "en"),
    ],
)
def test_query_language(text: str, language: str) -> None:
    assert query_language(text) == language


@pytest.mark.parametrize(
    "text", ["hi", "Hello!", "thanks", "Thank you very much.", "谢谢", "你好！", "who are you?"]
)
def test_small_talk_is_recognised(text: str) -> None:
    assert is_small_talk(text)


@pytest.mark.parametrize(
    "text", ["hi, what is LoRA?", "谢谢，那 KV cache 怎么算？", "who proposed FlashAttention?", ""]
)
def test_questions_are_not_small_talk(text: str) -> None:
    assert not is_small_talk(text)


GLOSSARY = """# comment
gradient clipping|clip grad\t梯度裁剪
tensor parallel|tensor parallelism|tp\t张量并行
speculative decoding|speculative sampling\t投机采样|推测解码
gradient\t梯度
"""


def test_english_terms_expand_to_chinese_longest_first() -> None:
    glossary = Glossary.parse(GLOSSARY)
    expanded = glossary.expansions("How does Gradient Clipping interact with speculative decoding?")
    # "gradient clipping" wins over its prefix "gradient"; every Chinese name is added.
    assert expanded == ["梯度裁剪", "投机采样", "推测解码"]


def test_chinese_terms_expand_to_english() -> None:
    glossary = Glossary.parse(GLOSSARY)
    assert glossary.expansions("张量并行的通信量是多少") == [
        "tensor parallel",
        "tensor parallelism",
        "tp",
    ]


def test_words_inside_other_words_do_not_match() -> None:
    glossary = Glossary.parse(GLOSSARY)
    assert glossary.expansions("tpu setup and gradients") == ["梯度"]  # plural still matches
    assert glossary.translate("What is tensor parallelism?") == "what is 张量并行?"


def test_plan_carries_expansions_and_translation() -> None:
    plan = analyze("What is speculative decoding?", Glossary.parse(GLOSSARY), translate=True)
    assert plan.language == "en" and not plan.small_talk
    assert plan.lexical_text == "What is speculative decoding? 投机采样 推测解码"
    assert plan.translation == "what is 投机采样?"
    assert analyze("谢谢！", Glossary.parse(GLOSSARY)).small_talk


def test_bad_glossary_line_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "terms.tsv"
    path.write_text("gradient clipping 梯度裁剪\n", encoding="utf-8")
    expected = r"terms\.tsv:1: expected 'english<TAB>chinese\[<TAB>en-only\]'"
    with pytest.raises(ValueError, match=expected):
        Glossary.load(path)


def test_bundled_glossary_has_a_few_hundred_terms() -> None:
    glossary = Glossary.load()
    assert len(glossary.terms) >= 300
    assert "梯度裁剪" in glossary.expansions("gradient clipping")
    assert "张量并行" in glossary.expansions("tensor parallelism")
    assert {"投机采样", "推测解码"} <= set(glossary.expansions("speculative decoding"))


def test_bundled_glossary_lines_are_well_formed_and_names_unique() -> None:
    # parse() skips empty names and keeps only the last line of a repeated English name,
    # so a stray "||" or a name written on two lines would silently lose expansions.
    text = resources.files("index").joinpath("data/glossary.tsv").read_text("utf-8")
    owner: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        english, chinese, *flag = line.split("\t")
        assert flag in ([], ["en-only"]), f"line {number}: {line!r}"
        for side in (english, chinese):
            names = side.split("|")
            assert all(n and n == n.strip() for n in names), f"line {number}: {line!r}"
        for name in english.lower().split("|"):
            assert name not in owner, f"{name!r} on lines {owner.get(name)} and {number}"
            owner[name] = number


def test_en_only_terms_expand_english_queries_only() -> None:
    glossary = Glossary.parse("throughput\t吞吐量\ten-only\nkv cache\tKV缓存\n")
    assert glossary.expansions("How is throughput measured?") == ["吞吐量"]
    assert glossary.expansions("吞吐量怎么测？") == []  # one-way: no English for Chinese queries
    assert glossary.expansions("KV缓存有多大？") == ["kv cache"]  # two-way as before
    with pytest.raises(ValueError, match="en-only"):
        Glossary.parse("throughput\t吞吐量\tboth\n")


def test_a_chinese_name_of_two_concepts_expands_to_both() -> None:
    glossary = Glossary.parse("operator|op\t算子\nkernel\t核函数|算子\n")
    assert glossary.expansions("算子怎么写？") == ["operator", "op", "kernel"]


def _chunk(row: int, url: str, topic: str) -> Chunk:
    return Chunk(str(row), row, url, "t", "", "text", 0, 4, topic)


def test_filters_by_section_and_site() -> None:
    chunks = [
        _chunk(0, "https://zhuanlan.zhihu.com/p/1", "LLM训练 / 分布式训练"),
        _chunk(1, "https://github.com/a/b/blob/main/x.md", "LLM训练 / 微调"),
        _chunk(2, "https://www.zhihu.com/question/2", "LLM推理"),
        _chunk(3, "https://notzhihu.com/p/3", "LLM推理"),
    ]
    rows = ChunkFilter(chunks).rows
    assert rows() is None
    assert list(rows(site="zhihu.com")) == [0, 2]  # subdomains yes, look-alikes no
    assert list(rows(site="https://www.zhihu.com/people/x")) == [0, 2]
    assert list(rows(section="llm训练")) == [0, 1]
    assert list(rows(section="推理", site="zhihu.com")) == [2]
    assert list(rows(section="nothing")) == []


@pytest.mark.parametrize("bad", ["zhihu", "not a host", "://"])
def test_bad_site_is_one_line_naming_the_fix(bad: str) -> None:
    with pytest.raises(ValueError, match=r"is not a host name: use e\.g\. zhihu\.com"):
        site_host(bad)


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("昇腾上 `HCCL_CONNECT_TIMEOUT` 设多少？", ("hccl_connect_timeout",)),
        ("What is torch.library.opcheck for?", ("torch.library.opcheck",)),
        (
            "`cooperative_groups::this_grid().block_rank()`",
            ("cooperative_groups::this_grid", "block_rank"),
        ),
        ("lmdeploy --cache-max-entry-count 的默认值", ("--cache-max-entry-count",)),
        ("How does ZeRO-3 compare to FSDP, e.g. in vLLM v0.6.0?", ()),  # names, not code
        ("per-thread default stream in CUDA 12.4", ()),
    ],
)
def test_code_identifiers_of_a_query(query: str, found: tuple[str, ...]) -> None:
    assert identifiers(query) == found
    assert analyze(query, None).identifiers == found
