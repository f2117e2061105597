"""HTML rendering for the web app (answers, cards, search, library), without Gradio."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote

from assistant import Answer, Citation
from index import Chunk, Hit
from ui.cards import answer_html, esc, link, safe_url, site_of, streaming_html
from ui.library import Entry, Library, articles_html, failures_html, status_html
from ui.search_view import ANY, filtered_search, highlight, hits_html, matches, query_terms

EVIL_TITLE = '<script>alert(1)</script><img src=x onerror="alert(2)">'
EVIL_QUOTE = 'He said "<b onmouseover=alert(3)>hi</b>" & left.'


def chunk(cid: str, url: str, title: str = "T", topic: str = "", text: str = "text") -> Chunk:
    return Chunk(cid, 1, url, title, "", text, 0, len(text), topic)


def paged_answer() -> Answer:
    quote = "PagedAttention solves the memory fragmentation of the KV cache."
    other = "ZeRO-3 切分参数。"
    return Answer(
        text=f"{quote} [1] {other} [2] Dropped marker [9].",
        citations=[
            Citation(1, "https://example.org/paged", "Paged", quote, "a1"),
            Citation(2, "https://www.zhihu.com/p/1", "ZeRO", other, "z1"),
        ],
        passages=[
            Hit(chunk("a1", "https://example.org/paged", topic="Inference"), 0.1, 1),
            Hit(chunk("z1", "https://www.zhihu.com/p/1", topic="Training / 分布式"), 0.1, 2),
        ],
    )


@dataclass
class NewAnswer(Answer):
    """An Answer with the fields another branch is adding, to render both shapes."""

    unsupported: list[str] = field(default_factory=list)
    notice: str = ""
    rewritten_query: str | None = None


def test_markers_link_to_cards_with_title_site_topic_quote_and_fragment() -> None:
    html = answer_html(paged_answer(), "lr-3")
    assert '<sup><a class="lr-ref" href="#lr-3-1">[1]</a></sup>' in html
    assert "Dropped marker [9]." in html  # an unknown marker stays plain text
    card = re.search(r'<div class="lr-card" id="lr-3-2">.*?lr-open.*?</a></div>', html)
    assert card is not None
    assert '<span class="lr-site">zhihu.com</span>' in card.group(0)
    assert '<span class="lr-topic">Training / 分布式</span>' in card.group(0)
    assert "<blockquote>ZeRO-3 切分参数。</blockquote>" in card.group(0)
    href = re.findall(r'href="([^"]+)"', card.group(0))[-1]
    assert href.startswith("https://www.zhihu.com/p/1#:~:text=")
    assert unquote(href.split("=", 1)[1]) == "ZeRO-3 切分参数。"
    assert "\n\n" not in html  # one HTML block: the chat's markdown leaves it alone


def test_titles_quotes_and_urls_from_articles_are_escaped() -> None:
    cites = [
        Citation(1, "javascript:alert(1)", EVIL_TITLE, EVIL_QUOTE, "x"),
        Citation(2, 'https://e.org/a"onmouseover="x', EVIL_TITLE, EVIL_QUOTE, "y"),
    ]
    html = answer_html(Answer(f"{EVIL_QUOTE} [1] [2]", cites))
    assert "<script" not in html and "<img" not in html and "<b " not in html
    assert "&lt;script&gt;" in html and "onerror=&quot;alert(2)&quot;" in html
    assert "javascript:" not in html.split("href=")[-1] and 'href="javascript' not in html
    assert 'href="https://e.org/a&quot;onmouseover=&quot;x' in html  # stays inside the attribute
    assert re.search(r"<[^>]*\son\w+=", html) is None  # no event handler attribute anywhere


def test_safe_url_and_site() -> None:
    assert safe_url("javascript:alert(1)") is None and safe_url("data:text/html,x") is None
    assert safe_url(" https://a.org/x ") == "https://a.org/x" and safe_url("http://") is None
    assert site_of("https://www.zhihu.com/p/1") == "zhihu.com" and site_of("nonsense") == ""
    assert link("file:///etc/passwd", "<x>") == "&lt;x&gt;"


def test_unsupported_sentences_notice_and_rewritten_query_are_shown() -> None:
    base = paged_answer()
    answer = NewAnswer(
        base.text,
        base.citations,
        passages=base.passages,
        unsupported=["ZeRO-3 切分参数。"],
        notice="Answered by <the> extractive fallback.",
        rewritten_query="ZeRO-3 显存",
    )
    html = answer_html(answer)
    assert '<span class="lr-unsupported" title="No cited passage supports this sentence">' in html
    assert "ZeRO-3 切分参数。</span>" in html
    assert "Answered by &lt;the&gt; extractive fallback." in html
    assert "Searched for: ZeRO-3 显存" in html and "1 sentence(s)</span> have no" in html


def test_abstained_answer_lists_the_nearest_articles() -> None:
    passages = [
        Hit(chunk("a", "https://example.org/a", EVIL_TITLE, "Inference"), 0.1, 1),
        Hit(chunk("b", "https://example.org/a", "same article"), 0.1, 2),
        Hit(chunk("c", "https://github.com/o/r", "Other"), 0.1, 3),
    ]
    html = answer_html(Answer("Not covered.", [], True, passages))
    assert "Nearest articles:" in html and html.count("<li>") == 2
    assert "&lt;script&gt;" in html and "<script" not in html
    assert "lr-sources" not in html


def test_streaming_text_is_escaped() -> None:
    assert streaming_html("a <img src=x onerror=y>") == (
        '<div class="lr-answer lr-streaming"><p>a &lt;img src=x onerror=y&gt;</p></div>'
    )


def test_highlight_escapes_first_and_never_marks_inside_entities() -> None:
    text = "Use <script>amp</script> & LoRA lora"
    out = highlight(text, ["amp", "lora", "lt"])
    assert "<script>" not in out and "&lt;script&gt;<mark>amp</mark>&lt;/script&gt;" in out
    assert "&amp;" in out and "&<mark>" not in out and "&<mark>lt</mark>;" not in out
    assert "<mark>LoRA</mark> <mark>lora</mark>" in out
    assert highlight("<b>", []) == "&lt;b&gt;"
    assert query_terms("ZeRO-3 怎么 切分")[0] == "zero-3"


def test_hits_html_shows_rank_score_meta_and_escapes() -> None:
    hit = Hit(chunk("c", "https://ex.org/a", EVIL_TITLE, "Topic", "ZeRO <b>x</b>"), 0.03, 1, 0.5)
    html = hits_html([hit], "zero")
    assert '<span class="lr-n">1</span>' in html and "score 0.0300 (cosine 0.50" in html
    assert "ex.org · Topic" in html and "<mark>ZeRO</mark> &lt;b&gt;x&lt;/b&gt;" in html
    assert "<script" not in html
    assert "No matching passages" in hits_html([], "x")


def test_filters_use_search_kwargs_when_present_else_filter_hits() -> None:
    hits = [
        Hit(chunk("1", "https://zhihu.com/a", topic="Training / 分布式"), 0.3, 1),
        Hit(chunk("2", "https://github.com/b", topic="Training"), 0.2, 2),
        Hit(chunk("3", "https://github.com/c", topic="Inference"), 0.1, 3),
    ]
    asked: list[int] = []

    def plain(query: str, k: int = 8) -> list[Hit]:
        asked.append(k)
        return hits[:k]

    got = filtered_search(plain, "q", 2, "Training", "github.com")
    assert [h.chunk.chunk_id for h in got] == ["2"] and got[0].rank == 1 and asked == [10]
    assert [h.chunk.chunk_id for h in filtered_search(plain, "q", 5, "Training", ANY)] == ["1", "2"]
    assert len(filtered_search(plain, "q", 2, ANY, ANY)) == 2 and asked[-1] == 2
    assert not matches(hits[0], "Train", ANY)  # a section is a whole path segment

    seen: dict[str, object] = {}

    def smart(
        query: str, k: int = 8, *, section: str | None = None, site: str | None = None
    ) -> list[Hit]:
        seen.update(section=section, site=site)
        return hits[:1]

    filtered_search(smart, "q", 3, "Training", ANY)
    assert seen == {"section": "Training", "site": None}


def test_library_html_escapes_titles_and_lists_failures_by_kind() -> None:
    entry = Entry(EVIL_TITLE, "https://x.org/a", "x.org", "2024-05-01", 7)
    login = {"count": 2, "example": "https://zhihu.com/q", "reason": "login"}
    library = Library(
        lists={"list:https://x.org/list.md": {"A / B": [entry]}},
        failures=[("https://x.org/gone", "http_404", "HTTP 404 <from> server")],
        ledger={"outcomes": {"article": 1, "failed": 1}, "failure_kinds": {"login_wall": login}},
        status={"index_version": "v1", "embedder": "use-m3", "articles": 1, "chunks": 7},
    )
    articles = articles_html(library)
    assert "<script" not in articles and "&lt;script&gt;" in articles
    assert "<td>2024-05-01</td>" in articles and '<td class="lr-num">7</td>' in articles
    failures = failures_html(library)
    assert "<code>http_404</code> (1)" in failures and "HTTP 404 &lt;from&gt; server" in failures
    assert "<code>login_wall</code>" in failures and "article 1 · failed 1" in failures
    assert "<dd>use-m3</dd>" in status_html(library.status)
    assert "linkrag build" in articles_html(Library())
    assert esc("\"'") == "&quot;&#x27;"
