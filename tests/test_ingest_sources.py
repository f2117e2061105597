"""Reading lists, source specs and canonical URLs."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest import SourceError, SourceKind, canonical_url, parse_reading_list, parse_source_spec
from ingest.sources import looks_damaged, parse_url_list, repair_text
from ingest.urls import github_raw_url, url_name

MARKDOWN_LIST = """\
<p align="center"><img src="https://example.com/logo.png"></p>
<a href="https://github.com/o/r/stargazers"><img src="https://img.shields.io/github/stars/o/r"></a>
[![badge](https://img.shields.io/badge/x-y.svg)](https://example.com/badge-target)

# Reading list

- [Contents](#training)

## Training

- [ZeRO explained](https://example.com/zero?utm_source=feed#part2) — a classic
- ![diagram](https://example.com/diagram.png)
- <a href="https://example.org/inline">Inline <b>HTML</b> link</a>
- [Local note](notes/local.md)

### Parallelism

- [Megatron](https://example.com/megatron "title") and <https://example.com/auto>
- see also https://example.com/bare.
- [mail me](mailto:a@b.c) [js](javascript:void(0))

```
[not a link](https://example.com/in-code)
```

## Inference

- [ZeRO again](https://example.com/zero)
"""


def test_markdown_list_keeps_anchor_and_heading_path() -> None:
    links = parse_reading_list(
        MARKDOWN_LIST,
        "list:https://h.example/list/README.md",
    )
    by_url = {link.url: link for link in links}
    assert list(by_url) == [
        "https://example.com/zero?utm_source=feed#part2",
        "https://example.org/inline",
        "https://h.example/list/notes/local.md",
        "https://example.com/megatron",
        "https://example.com/auto",
        "https://example.com/bare",
        "javascript:void(0)",  # kept so the ledger can name it as a bad link
        "https://example.com/zero",  # listed again under another heading: both are kept
    ]
    assert by_url["https://example.com/zero"].section == ("Reading list", "Inference")
    zero = by_url["https://example.com/zero?utm_source=feed#part2"]
    assert zero.anchor == "ZeRO explained"
    assert zero.section == ("Reading list", "Training")
    assert zero.source == "list:https://h.example/list/README.md"
    assert by_url["https://example.org/inline"].anchor == "Inline HTML link"
    assert by_url["https://example.com/megatron"].section == (
        "Reading list",
        "Training",
        "Parallelism",
    )


def test_relative_links_are_dropped_without_a_base_url() -> None:
    links = parse_reading_list(MARKDOWN_LIST, "list:/tmp/README.md")
    assert all(not link.url.endswith("local.md") for link in links)


def test_html_list_with_sections_skips_badges_and_anchors() -> None:
    html = """<!DOCTYPE html><html><body>
    <h1>Awesome LLM</h1><a href="#top">top</a>
    <a href="https://badge.example/x"><img src="b.svg"></a>
    <h2>Serving</h2><ul><li><a href="/posts/vllm.html">vLLM &amp; PagedAttention</a></li></ul>
    <h2>Training</h2><h3>RLHF</h3>
    <p><a href="https://example.com/rlhf">RLHF <i>explained</i></a></p>
    <a href="mailto:x@y.z">mail</a></body></html>"""
    links = parse_reading_list(html, "list:https://blog.example/list.html")
    assert [(link.url, link.anchor, link.section) for link in links] == [
        (
            "https://blog.example/posts/vllm.html",
            "vLLM & PagedAttention",
            ("Awesome LLM", "Serving"),
        ),
        ("https://example.com/rlhf", "RLHF explained", ("Awesome LLM", "Training", "RLHF")),
    ]


def test_mojibake_list_is_repaired_where_possible_and_flagged_elsewhere() -> None:
    original = (
        "# 阅读清单\n\n## 大模型训练\n\n"
        "- [大模型推理优化](https://zhuanlan.zhihu.com/p/1)\n"
        "- [分析transformer模型的参数量](https://zhuanlan.zhihu.com/p/2)\n"
        "- [Good English](https://example.com/a)\n"
    )
    damaged = original.encode("utf-8").decode("cp1252", errors="ignore")
    assert "大模型" not in damaged
    links = parse_reading_list(damaged, "list:seed.md")
    assert [link.url for link in links] == [
        "https://zhuanlan.zhihu.com/p/1",
        "https://zhuanlan.zhihu.com/p/2",
        "https://example.com/a",
    ]
    assert links[0].section[1] == "大模型训练"  # fully repaired
    assert looks_damaged(links[0].anchor)  # a byte was lost: flagged, never a title
    assert links[0].anchor.startswith("大模型推")
    assert links[2].anchor == "Good English" and not looks_damaged(links[2].anchor)


def test_repair_leaves_clean_text_alone() -> None:
    for text in ("café naïve — “quoted”", "中文，标点：（全角）", "plain ascii"):
        assert repair_text(text) == text
        assert not looks_damaged(text)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "HTTPS://Example.COM:443/a/b?utm_source=x&id=3&spm=1.2#frag",
            "https://example.com/a/b?id=3",
        ),
        ("http://example.com", "http://example.com/"),
        ("http://example.com:8080/x", "http://example.com:8080/x"),
        (
            "https://raw.githubusercontent.com/o/r/main/docs/a%20b.md",
            "https://github.com/o/r/blob/main/docs/a%20b.md",
        ),
        (
            "https://raw.githubusercontent.com/o/r/refs/heads/main/x.md",
            "https://github.com/o/r/blob/main/x.md",
        ),
        ("https://github.com/o/r/raw/main/x.md", "https://github.com/o/r/blob/main/x.md"),
        (
            "https://github.com/o/r/blob/main/中文.md",
            "https://github.com/o/r/blob/main/%E4%B8%AD%E6%96%87.md",
        ),
        (
            "https://mp.weixin.qq.com/s?__biz=MzA&mid=22&idx=1&sn=abc&chksm=zz&scene=21#wechat_redirect",
            "https://mp.weixin.qq.com/s?__biz=MzA&mid=22&idx=1&sn=abc",
        ),
        ("mailto:a@b.c", "mailto:a@b.c"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_github_raw_url_and_names() -> None:
    assert github_raw_url("https://github.com/o/r/blob/main/a/b.md#x") == (
        "https://raw.githubusercontent.com/o/r/main/a/b.md"
    )
    assert github_raw_url("https://github.com/o/r/tree/main/a") is None
    assert github_raw_url("https://example.com/o/r/blob/main/a.md") is None
    assert url_name("https://github.com/o/r/blob/main/docs/README.md") == "docs"
    assert url_name("https://x.org/p/%E4%B8%AD.md") == "中"


def test_parse_source_spec(tmp_path: Path) -> None:
    assert parse_source_spec("warc:/x/a.warc.gz").kind is SourceKind.WARC
    assert parse_source_spec("https://github.com/o/r").kind is SourceKind.LIST
    assert parse_source_spec("/data/crawl.warc").kind is SourceKind.WARC
    assert parse_source_spec(str(tmp_path)).kind is SourceKind.DIR
    assert parse_source_spec("lists/README.md").kind is SourceKind.LIST
    spec = parse_source_spec("urls: links.txt ")
    assert (spec.kind, spec.location, str(spec)) == (SourceKind.URLS, "links.txt", "urls:links.txt")
    for bad in ("", "list:", "ftp:/x", "feed:https://x"):
        with pytest.raises(SourceError) as info:
            parse_source_spec(bad)
        assert "\n" not in str(info.value)


def test_url_list_skips_comments_and_junk() -> None:
    links = parse_url_list(
        "# mine\nhttps://a.example/x\n\nnot a url\nhttps://a.example/x#dup\n", "urls:f"
    )
    assert [link.url for link in links] == ["https://a.example/x"]
