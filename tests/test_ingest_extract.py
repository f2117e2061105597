"""Extraction: main text, titles, listing pages, languages, dedup decisions."""

from __future__ import annotations

from ingest.dedup import Action, decide, group_by_canonical, text_hash
from ingest.extract import Extracted, Skip, detect_language, extract, extract_page
from ingest.types import FetchResult

PARAGRAPH = (
    "PagedAttention stores the key-value cache in fixed-size blocks, much like virtual memory "
    "pages in an operating system, so that memory fragmentation stays low and sharing is cheap. "
)
SHELL_TOP = (
    '<header><nav><a href="/features">Product</a> <a href="/pricing">Pricing</a> '
    '<a href="/login">Sign in</a></nav></header>'
)
SHELL_BOTTOM = '<footer><p>© 2026 Example Inc.</p><a href="/privacy">Privacy</a></footer>'


def html_page(title: str, main: str) -> bytes:
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title></head>"
        f"<body>{SHELL_TOP}<main><article>{main}</article></main>{SHELL_BOTTOM}</body></html>"
    ).encode()


def result(
    body: bytes, ctype: str = "text/html; charset=utf-8", url: str = "https://e.x/a"
) -> FetchResult:
    return FetchResult(url=url, final_url=url, status=200, content_type=ctype, body=body)


def test_html_boilerplate_is_stripped_and_tables_and_code_kept() -> None:
    main = (
        "<h1>PagedAttention in vLLM</h1>"
        + f"<p>{PARAGRAPH}</p>" * 3
        + "<table><tr><th>block</th><th>tokens</th></tr><tr><td>1</td><td>16</td></tr></table>"
        + "<pre><code>llm = LLM(model='opt-125m')</code></pre>"
    )
    done = extract_page(result(html_page("PagedAttention in vLLM | Blog", main)))
    assert isinstance(done, Extracted), done
    assert "fixed-size blocks" in done.text
    for junk in ("Sign in", "Pricing", "Privacy", "Example Inc"):
        assert junk not in done.text
    assert "| block | tokens |" in done.text and "| 1 | 16 |" in done.text
    assert "llm = LLM(model='opt-125m')" in done.text
    assert done.title == "PagedAttention in vLLM"  # the site name is trimmed
    assert done.language == "en" and done.kind == "html"


def test_github_shell_title_gives_way_to_the_first_heading() -> None:
    main = (
        "<h1>ZeRO 显存优化</h1>"
        + "<p>ZeRO 把优化器状态、梯度和参数切分到多张卡上，从而大幅降低每张卡的显存占用。</p>" * 8
    )
    page = html_page("zero.md at main · owner/repo", main)
    done = extract_page(result(page, url="https://github.com/owner/repo/blob/main/zero.md"))
    assert isinstance(done, Extracted), done
    assert done.title == "ZeRO 显存优化"
    assert done.language == "zh"


def test_directory_listing_is_not_an_article() -> None:
    entries = "".join(
        f'<li><a href="/o/r/blob/main/d/file{i}.md">file{i}.md</a></li>' for i in range(40)
    )
    page = html_page("d at main · o/r", f'<ul class="tree">{entries}</ul>')
    done = extract_page(result(page, url="https://github.com/o/r/tree/main/d"))
    assert isinstance(done, Skip) and done.kind == "listing"
    assert extract(result(page)) is None
    single = html_page(
        "e at main · o/r", '<ul><li><a href="/o/r/blob/main/e/README.md">README.md</a></li></ul>'
    )
    assert extract_page(result(single)).kind == "listing"  # type: ignore[union-attr]


def test_markdown_links_only_file_is_a_listing() -> None:
    body = "\n".join(f"- [Article number {i}](https://e.x/{i})" for i in range(30)).encode()
    done = extract_page(result(body, "text/markdown"))
    assert isinstance(done, Skip) and done.kind == "listing"


def test_markdown_title_text_and_cleanup() -> None:
    body = (
        "<p align='center'>\n<img src='logo.png'>\n</p>\n<!-- hidden -->\n\n"
        "# KV Cache 解读\n\n" + PARAGRAPH * 3 + "\n\n![figure](https://e.x/f.png)\n\n"
        "```html\n<p align='center'>\n```\n"
    ).encode()
    url = "https://raw.githubusercontent.com/o/r/main/kv.md"
    done = extract_page(result(body, "text/plain; charset=utf-8", url=url))
    assert isinstance(done, Extracted), done
    assert done.kind == "markdown" and done.title == "KV Cache 解读"
    assert done.text.startswith("# KV Cache 解读")
    assert "hidden" not in done.text and "logo.png" not in done.text and "f.png" not in done.text
    assert "<p align='center'>" in done.text  # code blocks are left exactly as they are


def test_title_fallbacks_never_use_a_damaged_anchor() -> None:
    body = ("## 背景\n\n" + PARAGRAPH * 3).encode()
    url = "https://raw.githubusercontent.com/o/r/main/docs/README.md"
    damaged = "大模�推�优化"
    done = extract_page(result(body, "text/markdown", url=url), anchor=damaged)
    assert isinstance(done, Extracted) and done.title == "背景"
    named = extract_page(
        result(body, "text/markdown", url="https://e.x/notes/paged-attention.md"), anchor=damaged
    )
    assert isinstance(named, Extracted) and named.title == "paged-attention"
    anchored = extract_page(
        result(body, "text/markdown", url="https://e.x/n.md"), anchor="Paged attention"
    )
    assert isinstance(anchored, Extracted) and anchored.title == "Paged attention"
    plain = extract_page(
        result(PARAGRAPH.encode() * 3, "text/plain", url="https://e.x/notes/p.txt"), anchor=damaged
    )
    assert isinstance(plain, Extracted) and plain.title == "p"


def test_short_pages_errors_and_unsupported_types_are_skipped() -> None:
    assert extract_page(result(b"# Tiny\n\nhello", "text/markdown")).kind == "too_short"  # type: ignore[union-attr]
    failed = FetchResult(url="https://e.x/404", status=404, error="HTTP 404", error_kind="http_404")
    assert extract_page(failed).kind == "fetch_error"  # type: ignore[union-attr]
    assert extract_page(result(b"%PDF-1.7", "application/pdf")).kind == "unsupported"  # type: ignore[union-attr]


def test_charset_is_decoded() -> None:
    text = "中文内容测试。" * 40
    head = "<html><head><meta charset='gbk'></head>"
    body = f"{head}<body><article><p>{text}</p></article></body></html>"
    done = extract_page(result(body.encode("gbk"), "text/html"))
    assert isinstance(done, Extracted) and "中文内容测试" in done.text


def test_detect_language() -> None:
    assert detect_language("这是一个关于显存优化的中文段落，包含 ZeRO-3 和 CUDA 等术语。") == "zh"
    assert detect_language("An English paragraph about memory, with 显存 once.") == "en"


def test_dedup_decisions_and_grouping() -> None:
    h = text_hash("a  b\nc")
    assert h == text_hash("a b c") != text_hash("a b d")
    assert decide(None, None, h).action is Action.NEW
    assert decide((3, h), None, h) == decide((3, h), 9, h)
    assert decide((3, h), None, h).action is Action.SAME
    assert decide((3, "old"), None, h).action is Action.UPDATE
    assert decide(None, 7, h).article_id == 7 and decide(None, 7, h).action is Action.DUPLICATE
    groups = group_by_canonical(
        [
            "https://github.com/o/r/blob/main/a.md",
            "https://raw.githubusercontent.com/o/r/main/a.md",
            "https://github.com/o/r/tree/main",
        ]
    )
    assert list(groups) == [
        "https://github.com/o/r/blob/main/a.md",
        "https://github.com/o/r/tree/main",
    ]
    assert len(groups["https://github.com/o/r/blob/main/a.md"]) == 2
