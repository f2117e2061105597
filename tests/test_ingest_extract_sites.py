"""Stub pages, per-site selectors, metadata, PDFs and binary bodies, on fixture pages we wrote."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

from ingest.extract import Extracted, Skip, extract_page
from ingest.sites import SITES, css_to_xpath, normalize_date, site_for
from ingest.stubs import STUB_RULES
from ingest.types import FetchResult

PAGES = Path(__file__).parent / "fixtures" / "pages"
WECHAT = "https://mp.weixin.qq.com/s?__biz=MzI4MDYzNzg4Mw==&mid=2247551234&idx=1&sn=0a1b2c3d4e5f"


def page(name: str, url: str, ctype: str = "text/html; charset=utf-8") -> FetchResult:
    body = (PAGES / name).read_bytes()
    return FetchResult(url=url, final_url=url, status=200, content_type=ctype, body=body)


def raw(body: bytes, url: str, ctype: str) -> FetchResult:
    return FetchResult(url=url, final_url=url, status=200, content_type=ctype, body=body)


@pytest.mark.parametrize(
    ("name", "url", "kind"),
    [
        ("zhihu_login.html", "https://www.zhihu.com/signin?next=%2Fp%2F1", "login_wall"),
        ("zhihu_404.html", "https://zhuanlan.zhihu.com/p/404404", "deleted"),
        ("wechat_deleted.html", WECHAT, "deleted"),
        ("wechat_violation.html", WECHAT, "violation"),
        ("wechat_blocked.html", WECHAT, "blocked"),
        ("captcha_cloudflare.html", "https://blog.example.dev/posts/kv-cache", "captcha"),
        ("captcha_zhihu.html", "https://www.zhihu.com/account/unhuman?type=unhuman", "captcha"),
        ("js_shell.html", "https://juejin.cn/post/7336720538612345678", "js_shell"),
    ],
)
def test_stub_pages_are_skipped_with_their_kind(name: str, url: str, kind: str) -> None:
    done = extract_page(page(name, url))
    assert isinstance(done, Skip), done
    assert done.kind == kind, done
    assert url in done.reason and "\n" not in done.reason


def test_an_article_that_quotes_a_stub_phrase_is_still_an_article() -> None:
    paragraph = (
        "<p>公众号文章被删除后，访问链接只会看到一句“该内容已被发布者删除”，所以归档工具必须在"
        "抓取时识别这种占位页面，而不是把它当作正文写进索引。下面我们逐一分析几类常见的占位页。</p>"
    )
    paragraphs = "".join(paragraph.replace("</p>", f"（第 {i} 节）</p>") for i in range(30))
    body = f"<html><body><article><h1>占位页识别</h1>{paragraphs}</article></body></html>"
    done = extract_page(raw(body.encode(), "https://e.x/stubs", "text/html"))
    assert isinstance(done, Extracted), done


def test_empty_root_without_noscript_is_a_js_shell_but_a_rendered_root_is_not() -> None:
    shell = b"<html><head><title>App</title></head><body><div id='root'></div></body></html>"
    done = extract_page(raw(shell, "https://e.x/app", "text/html"))
    assert isinstance(done, Skip) and done.kind == "js_shell"
    rendered = shell.replace(b"<div id='root'></div>", b"<div id='root'><p>ok</p></div>")
    assert extract_page(raw(rendered, "https://e.x/app", "text/html")).kind == "too_short"  # type: ignore[union-attr]


def test_page_with_no_visible_text_is_empty() -> None:
    body = b"<html><head><title>x</title><script>var a = 1;</script></head><body> </body></html>"
    done = extract_page(raw(body, "https://e.x/blank", "text/html"))
    assert isinstance(done, Skip) and done.kind == "empty"


def test_wechat_article_body_title_author_and_date() -> None:
    done = extract_page(page("wechat_article.html", WECHAT))
    assert isinstance(done, Extracted), done
    assert done.title == "大模型推理加速：一文读懂 PagedAttention"
    assert done.author == "AI 工程实践"  # #js_name, the account
    assert done.date == "2024-03-06"  # var ct = "1709712000", Beijing time
    assert done.language == "zh"
    assert "## 一、为什么 KV Cache 会浪费显存" in done.text  # heading kept, not indented
    assert "| vLLM（PagedAttention） | 约 96% | 14x–24x |" in done.text
    assert 'llm = LLM(model="Qwen/Qwen2-7B-Instruct", block_size=16)' in done.text
    for chrome in ("微信扫一扫", "阅读", "分享"):
        assert chrome not in done.text


def test_site_selector_replaces_trafilatura_when_it_takes_the_page_chrome() -> None:
    # A short image post: trafilatura falls back to the whole page (阅读 1.2万 赞 分享 ...).
    done = extract_page(page("wechat_image_post.html", WECHAT))
    assert isinstance(done, Extracted), done
    assert "写时复制共享前缀块" in done.text and "吞吐量提升十倍以上" in done.text
    for chrome in ("微信扫一扫", "关注该公众号", "1.2万", "发表于"):
        assert chrome not in done.text
    assert done.title == "五张图看懂 PagedAttention"
    # Without the site row (another host) the chrome stays: the table is what fixed it.
    other = extract_page(page("wechat_image_post.html", "https://mirror.example.org/a"))
    assert isinstance(other, Extracted) and "微信扫一扫" in other.text


def test_zhihu_article_title_author_date_and_table() -> None:
    done = extract_page(page("zhihu_article.html", "https://zhuanlan.zhihu.com/p/618865052"))
    assert isinstance(done, Extracted), done
    assert done.title == "深入理解 ZeRO：DeepSpeed 如何切分优化器状态"
    assert done.author == "张三"  # not "张三 某大厂 AI Infra 工程师"
    assert done.date == "2023-04-02"
    assert "| ZeRO-3 | 优化器状态 + 梯度 + 参数 | 16Ψ/N |" in done.text
    assert '"stage": 3' in done.text
    for chrome in ("推荐阅读", "讲得很清楚", "写文章"):
        assert chrome not in done.text


def test_juejin_article_code_heading_and_metadata() -> None:
    done = extract_page(page("juejin_article.html", "https://juejin.cn/post/7336720538612345678"))
    assert isinstance(done, Extracted), done
    assert done.title == "手把手用 Triton 写一个 Softmax 算子"
    assert done.author == "码农小张" and done.date == "2024-02-18"
    assert "## Triton 实现" in done.text
    assert "```" in done.text and "x = x - tl.max(x, axis=0)" in done.text
    assert "| Triton 融合版 | 1,436 |" in done.text
    assert ".markdown-body{" not in done.text and "相关文章" not in done.text


def test_cnblogs_and_csdn_metadata() -> None:
    cnblogs = extract_page(page("cnblogs_article.html", "https://www.cnblogs.com/suanli/p/1.html"))
    assert isinstance(cnblogs, Extracted), cnblogs
    assert cnblogs.title == "NCCL Ring All-Reduce 通信量推导"
    assert cnblogs.author == "算力搬运工" and cnblogs.date == "2023-08-22"
    assert "2(N-1)K/N" in cnblogs.text and "tree 算法" not in cnblogs.text  # comments left out
    csdn = extract_page(page("csdn_link_dense.html", "https://blog.csdn.net/u/article/details/1"))
    assert isinstance(csdn, Extracted), csdn
    assert csdn.title == "CUDA 编程入门资料整理（持续更新）"
    assert csdn.author == "算子小王" and csdn.date == "2024-01-05"


def test_site_table_and_selector_translation() -> None:
    assert {s.name for s in SITES} >= {"wechat", "zhihu", "juejin", "cnblogs", "csdn", "github"}
    assert site_for("https://zhuanlan.zhihu.com/p/1").name == "zhihu"  # type: ignore[union-attr]
    assert site_for("https://notzhihu.com/p/1") is None
    assert css_to_xpath("#js_content") == "//*[@id='js_content']"
    assert css_to_xpath("meta[name=author]") == "//meta[@name='author']"
    assert css_to_xpath(".a .b") == (
        "//*[contains(concat(' ',normalize-space(@class),' '),' a ')]"
        "//*[contains(concat(' ',normalize-space(@class),' '),' b ')]"
    )
    with pytest.raises(ValueError):
        css_to_xpath("div > p")
    assert normalize_date("发布于 2023-04-02 19:41") == "2023-04-02"
    assert normalize_date("2023年4月2日") == "2023-04-02" and normalize_date("2023-13-40") is None
    assert {r.kind for r in STUB_RULES} == {
        "deleted",
        "violation",
        "blocked",
        "login_wall",
        "captcha",
        "js_shell",
    }


def _pdf(pages: list[str], title: str | None = None) -> bytes:
    writer = PdfWriter()
    for text in pages:
        pdf_page = writer.add_blank_page(612, 792)
        font = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
            }
        )
        fonts = DictionaryObject({NameObject("/F1"): writer._add_object(font)})
        pdf_page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): fonts})
        lines = " ".join(f"({line}) Tj 0 -14 Td" for line in text.split("\n"))
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 11 Tf 72 720 Td {lines} ET".encode())
        pdf_page[NameObject("/Contents")] = writer._add_object(stream)
    if title:
        writer.add_metadata({"/Title": title, "/Author": "Kwon et al."})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


SENTENCE = "PagedAttention partitions the KV cache of each sequence into fixed-size blocks."


def test_pdf_text_per_page_title_and_author() -> None:
    body = _pdf([f"Introduction\n{SENTENCE}\n{SENTENCE}", f"Method\n{SENTENCE}"], "vLLM paper")
    done = extract_page(raw(body, "https://arxiv.org/pdf/2309.06180", "application/pdf"))
    assert isinstance(done, Extracted), done
    assert done.kind == "pdf" and done.title == "vLLM paper" and done.author == "Kwon et al."
    assert done.text.index("Introduction") < done.text.index("Method")
    assert done.text.count("fixed-size blocks") == 3
    # No metadata: the first line is the title; a .pdf URL served as octet-stream still works.
    untitled = extract_page(
        raw(
            _pdf([f"Efficient Memory Management\n{SENTENCE}\n{SENTENCE}\n{SENTENCE}"]),
            "https://e.x/paper.pdf",
            "application/octet-stream",
        )
    )
    assert isinstance(untitled, Extracted) and untitled.title == "Efficient Memory Management"


def test_broken_and_textless_pdfs_are_skipped() -> None:
    body = _pdf([f"Intro\n{SENTENCE}"])
    broken = extract_page(raw(body[: len(body) // 3], "https://e.x/b.pdf", "application/pdf"))
    assert isinstance(broken, Skip) and broken.kind == "unsupported", broken
    assert "\n" not in broken.reason and "https://e.x/b.pdf" in broken.reason
    junk = extract_page(raw(b"%PDF-1.7\n garbage", "https://e.x/j.pdf", "application/pdf"))
    assert isinstance(junk, Skip) and junk.kind == "unsupported"
    blank = PdfWriter()
    blank.add_blank_page(612, 792)
    out = io.BytesIO()
    blank.write(out)
    empty = extract_page(raw(out.getvalue(), "https://e.x/scan.pdf", "application/pdf"))
    assert isinstance(empty, Skip) and empty.kind == "empty"


def test_pdf_served_as_html_is_read_as_pdf() -> None:
    body = _pdf([f"Served wrong\n{SENTENCE}\n{SENTENCE}\n{SENTENCE}"])
    done = extract_page(raw(body, "https://e.x/paper", "text/html"))
    assert isinstance(done, Extracted) and done.kind == "pdf"


@pytest.mark.parametrize(
    "body",
    [
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20,
        b"PK\x03\x04" + b"\x00" * 100,
        bytes(range(256)) * 40,  # random binary with NULs
        b"<html>" + b"\x01\x02\x03\x04\x05\x06\x07\x08" * 200,
    ],
)
def test_binary_served_as_html_is_binary(body: bytes) -> None:
    done = extract_page(raw(body, "https://e.x/logo", "text/html; charset=utf-8"))
    assert isinstance(done, Skip) and done.kind == "binary", done
    assert "text/html" in done.reason


def test_utf16_html_is_not_binary() -> None:
    text = "<html><body><article><p>" + "中文内容测试。" * 60 + "</p></article></body></html>"
    done = extract_page(raw(text.encode("utf-16"), "https://e.x/u16", "text/html"))
    assert not (isinstance(done, Skip) and done.kind == "binary"), done
