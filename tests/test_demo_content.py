"""The offline demo's content: the WARC builder, the reading list and the articles themselves."""

from __future__ import annotations

import importlib.util
import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType

import pytest
from warcio.archiveiterator import ArchiveIterator

DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo"
SITE = DEMO / "site"
BASE = "https://demo.linkrag.invalid/"
# Pages that exist on purpose but must not become articles.
NOT_ARTICLES = {"posts/index.html", "posts/members-only.html"}
# Links the reading list carries on purpose although the site lacks them (recorded as failures).
INTENTIONAL_MISSES = {"notes/continuous-batching.md", "posts/smoothquant-w8a8.html"}
LINK = re.compile(r"\]\((https?://[^)\s]+)\)")


def _load_make_warc() -> ModuleType:
    # examples/ is not a package, so load the script by path.
    spec = importlib.util.spec_from_file_location("demo_make_warc", DEMO / "make_warc.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _site_files() -> dict[str, Path]:
    return {p.relative_to(SITE).as_posix(): p for p in sorted(SITE.rglob("*")) if p.is_file()}


def _list_links() -> list[str]:
    return LINK.findall((DEMO / "reading-list.md").read_text(encoding="utf-8"))


class _ArticleText(HTMLParser):
    """Visible text inside <article>, plus the <title> and the first <h1>."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.parts: list[str] = []
        self.title = ""
        self.h1 = ""
        self._tag = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag = tag
        self.depth += tag == "article"

    def handle_endtag(self, tag: str) -> None:
        self.depth -= tag == "article"
        self._tag = ""

    def handle_data(self, data: str) -> None:
        if self._tag == "title":
            self.title += data
        if self._tag == "h1" and not self.h1:
            self.h1 = data
        if self.depth > 0:
            self.parts.append(data)

    @property
    def text(self) -> str:
        return re.sub(r"\s+", " ", "".join(self.parts)).strip()


def _html_text(path: Path) -> _ArticleText:
    parser = _ArticleText()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_warc_has_one_response_per_site_file_and_the_list(tmp_path: Path) -> None:
    out = tmp_path / "demo.warc.gz"
    count = _load_make_warc().write_warc(out)
    files = _site_files()
    expected = {BASE + rel: path.read_bytes() for rel, path in files.items()}
    expected[BASE + "reading-list.md"] = (DEMO / "reading-list.md").read_bytes()

    seen: dict[str, bytes] = {}
    with out.open("rb") as stream:
        for record in ArchiveIterator(stream):
            assert record.rec_type == "response"
            url = record.rec_headers.get_header("WARC-Target-URI")
            assert url not in seen, f"duplicate record for {url}"
            headers = record.http_headers
            suffix = Path(url).suffix
            kind = "text/html" if suffix == ".html" else "text/markdown"
            assert headers.get_header("Content-Type") == f"{kind}; charset=utf-8"
            for name in ("Date", "ETag", "Last-Modified"):
                assert headers.get_header(name), f"{url} lacks {name}"
            seen[url] = record.content_stream().read()
    assert count == len(expected) == len(seen)
    assert seen == expected


def test_warc_output_is_reproducible(tmp_path: Path) -> None:
    make_warc = _load_make_warc()
    make_warc.write_warc(tmp_path / "a.warc.gz")
    make_warc.write_warc(tmp_path / "b.warc.gz")
    assert (tmp_path / "a.warc.gz").read_bytes() == (tmp_path / "b.warc.gz").read_bytes()


def test_make_warc_cli_writes_the_archive(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "demo.warc"
    assert _load_make_warc().main([str(out)]) == 0
    with out.open("rb") as stream:
        urls = [r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(stream)]
    assert urls == sorted(urls)
    assert BASE + "reading-list.md" in urls


def test_every_list_link_has_a_site_file_except_the_intentional_misses() -> None:
    links = _list_links()
    assert len(links) == len(set(links)), "a link is listed twice"
    assert all(link.startswith(BASE) for link in links)
    linked = {link.removeprefix(BASE) for link in links}
    files = set(_site_files())
    assert linked - files == INTENTIONAL_MISSES
    assert files - linked == set(), "every site page should be reachable from the list"


def test_reading_list_has_sections_like_the_seeds() -> None:
    text = (DEMO / "reading-list.md").read_text(encoding="utf-8")
    sections = re.findall(r"^## (.+)$", text, flags=re.M)
    assert {"训练", "推理", "量化", "分布式"} <= set(sections)
    assert re.search(r"^### ", text, flags=re.M)


ARTICLES = sorted(set(_site_files()) - NOT_ARTICLES)


@pytest.mark.parametrize("rel", ARTICLES)
def test_article_has_a_title_and_substance(rel: str) -> None:
    path = SITE / rel
    if path.suffix == ".md":
        text = path.read_text(encoding="utf-8")
        assert text.startswith("# "), "markdown articles start with a # title"
    else:
        parsed = _html_text(path)
        assert parsed.title.strip() and parsed.h1.strip()
        assert "<article" in path.read_text(encoding="utf-8")
        text = parsed.text
    assert len(text) >= 300, f"{rel} has only {len(text)} characters"


def test_articles_mix_languages_formats_tables_and_code() -> None:
    texts = {rel: (SITE / rel).read_text(encoding="utf-8") for rel in ARTICLES}
    assert len(ARTICLES) >= 10
    assert sum(rel.endswith(".md") for rel in ARTICLES) >= 4
    assert sum(rel.endswith(".html") for rel in ARTICLES) >= 4
    zh = [rel for rel, t in texts.items() if len(re.findall(r"[\u4e00-\u9fff]", t)) > 200]
    assert 3 <= len(zh) <= len(ARTICLES) - 3, "expected both Chinese and English articles"
    assert any(re.search(r"^\|---", t, flags=re.M) for t in texts.values()), "no markdown table"
    assert any("```" in t for t in texts.values()), "no fenced code block"


def test_stub_and_directory_pages_carry_little_prose() -> None:
    stub = _html_text(SITE / "posts" / "members-only.html").text
    assert "登录后查看全文" in stub and len(stub) < 100
    directory = (SITE / "posts" / "index.html").read_text(encoding="utf-8")
    assert "<article" not in directory
    assert len(re.findall(r"<a href=", directory)) >= 12
