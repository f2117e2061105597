"""Markdown rendering of answers and hits, without Gradio."""

from __future__ import annotations

from urllib.parse import unquote

from assistant import Answer, Citation
from index import Chunk, Hit
from ui.render import answer_markdown, hits_markdown, text_fragment


def make_answer() -> Answer:
    quote_a = "PagedAttention solves the memory fragmentation of the KV cache, by paging."
    quote_b = "Blocks can be shared between sequences."
    quote_c = "ZeRO-3 会把模型参数切分到所有 GPU 上。"
    return Answer(
        text=f"{quote_a} [1] {quote_b} [1] {quote_c} [2]",
        citations=[
            Citation(1, "https://example.org/paged", "Paged [Attention]", quote_a, "a1"),
            Citation(1, "https://example.org/paged", "Paged [Attention]", quote_b, "a1"),
            Citation(2, "https://github.com/o/r/blob/main/zero.md", "", quote_c, "z1"),
        ],
    )


def test_answer_markdown_lists_numbered_sources_with_links_and_quotes() -> None:
    md = answer_markdown(make_answer())
    text, sources = md.split("**Sources**")
    assert text.strip() == make_answer().text
    lines = [line for line in sources.strip().splitlines() if line.strip()]
    assert lines[0].startswith("1. [Paged \\[Attention\\]](https://example.org/paged#:~:text=")
    assert lines[1] == f"   > {make_answer().citations[0].quote}"
    assert "   > Blocks can be shared between sequences." in lines
    # an untitled source falls back to its URL as the link text
    assert any(line.startswith("2. [https://github.com/o/r/blob/main/zero.md](") for line in lines)


def test_text_fragment_escapes_directive_syntax_and_shortens_long_quotes() -> None:
    short = text_fragment("ZeRO-3, fast & small")
    assert short == "#:~:text=ZeRO%2D3%2C%20fast%20%26%20small"
    long = text_fragment("one two three four five six seven eight nine ten eleven twelve")
    start, end = long.removeprefix("#:~:text=").split(",")
    assert unquote(start) == "one two three four five"
    assert unquote(end) == "eight nine ten eleven twelve"
    # markdown link syntax is what the browser shows as link text
    linked = text_fragment("See [the docs](https://x.org) now")
    assert unquote(linked) == "#:~:text=See the docs now"


def test_sources_show_the_reading_list_topic() -> None:
    answer = make_answer()
    chunk = Chunk("z1", 2, answer.citations[2].url, "", "", "text", 0, 4, "Training / 分布式")
    answer.passages = [Hit(chunk, 0.1, 1, 0.5)]
    assert ") · Training / 分布式" in answer_markdown(answer)


def test_abstained_answer_renders_without_sources() -> None:
    md = answer_markdown(Answer("The indexed articles do not cover this question.", abstained=True))
    assert md == "The indexed articles do not cover this question."


def test_hits_markdown_ranks_titles_and_snippets() -> None:
    chunk = Chunk(
        "c1",
        1,
        "https://example.org/a",
        "Article A",
        "Intro > Details",
        "First line.\n\nSecond   line." + " filler" * 80,
        0,
        600,
    )
    md = hits_markdown([Hit(chunk, 0.0328, 1, 0.5, 3.2)])
    head = "**1. [Article A](https://example.org/a)** · Intro > Details · score 0.0328"
    assert md.startswith(head)
    assert "> First line. Second line. filler" in md and md.endswith("…")
    assert hits_markdown([]) == "No matching passages."
