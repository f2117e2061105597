"""Turn a fetched page into article text and metadata. Pure: no network, no files."""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

import lxml.etree  # type: ignore[import-untyped]  # lxml ships no type information
import lxml.html  # type: ignore[import-untyped]
import trafilatura

from ingest.fetch import decode_body
from ingest.sources import clean_inline, looks_damaged, looks_like_html
from ingest.types import FetchResult
from ingest.urls import url_name

log = logging.getLogger(__name__)

_HTML_TYPES = ("text/html", "application/xhtml+xml")
_MD_TYPES = ("text/markdown", "text/x-markdown")
_MD_EXT = (".md", ".markdown", ".mdx")
_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_IMG = re.compile(r"<img\b[^>]*>", re.I)
_TAG_ONLY_LINE = re.compile(r"^\s*(</?[a-zA-Z][^>]*>\s*)+$")
_MD_IMAGE = re.compile(r"!\[([^\[\]]*)\]\([^)]*\)")
_MD_LINK = re.compile(r"\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\([^)]*\)")
_HTML_LINK = re.compile(r"<a\b[^>]*>(.*?)</a\s*>", re.I | re.S)
# GitHub's page shell: "README.md at main · owner/repo", "owner/repo", "... · GitHub".
_SHELL_TITLE = re.compile(
    r"( at [^ ]+ · [\w.-]+/[\w.-]+$)|(^[\w.-]+/[\w.-]+$)|( · GitHub$)|(^GitHub$)"
)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
_LISTING_TEXT = 40  # fewer characters than this outside links, and the page is a list of links


@dataclass
class Extracted:
    """Main text and metadata of one article."""

    title: str
    text: str
    language: str
    kind: str  # html, markdown or text
    author: str | None = None
    date: str | None = None


class Skip(NamedTuple):
    """Why a page is not an article: kind is listing, too_short, unsupported or empty."""

    kind: str
    reason: str


def detect_language(text: str) -> str:
    """A coarse language tag: kana → ja, hangul → ko, enough Han characters → zh, else en."""
    han = len(_CJK.findall(text))
    if len(_KANA.findall(text)) > 20:
        return "ja"
    if len(_HANGUL.findall(text)) > 20:
        return "ko"
    # One Han character carries about as much as one English word.
    return "zh" if han and han >= 0.3 * len(_LATIN_WORD.findall(text)) else "en"


def page_kind(result: FetchResult, text: str) -> str:
    """html, markdown, text, or unsupported, from the content type, URL and a sniff."""
    ctype = result.content_type.split(";", 1)[0].strip().lower()
    path = urlsplit(result.final_url or result.url).path.lower()
    if ctype in _HTML_TYPES:
        return "html"
    if ctype in _MD_TYPES or (ctype in ("text/plain", "") and path.endswith(_MD_EXT)):
        return "markdown"
    if ctype.startswith("text/") or not ctype:
        return "html" if looks_like_html(text) else "text"
    return "unsupported"


def normalize_markdown(text: str) -> str:
    """Markdown as is, minus HTML comments, images (alt text kept) and tag-only lines.

    Code blocks are left untouched; images are dropped because their URLs are noise to
    search and HTML extraction drops them as well.
    """
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _COMMENT.sub("", text)
    out: list[str] = []
    in_code = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            in_code = not in_code
        elif not in_code:
            line = _MD_IMAGE.sub(lambda m: m.group(1), _IMG.sub("", line))
            if _TAG_ONLY_LINE.match(line):
                continue
        out.append(line.rstrip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def normalize_text(text: str) -> str:
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _headings(markdown: str) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    in_code = False
    for line in markdown.split("\n"):
        if _FENCE.match(line):
            in_code = not in_code
        elif not in_code and (match := _HEADING.match(line)):
            title = clean_inline(match.group(2))
            if title:
                found.append((len(match.group(1)), title))
    return found


def _is_listing_markdown(markdown: str) -> bool:
    links = _MD_LINK.findall(markdown) + _HTML_LINK.findall(markdown)
    if not links:
        return False
    rest = _HTML_LINK.sub(" ", _MD_LINK.sub(" ", markdown))
    rest = re.sub(r"^\s*(#+|[-*+]|\d+\.)\s*", "", rest, flags=re.M)
    rest = re.sub(r"<[^>]+>|[\s|:*_`#>/-]+", "", rest)
    return len(rest) < max(_LISTING_TEXT, 0.1 * len(markdown))


def good_title(candidate: str | None, url: str) -> str | None:
    """`candidate` cleaned; None when empty, a site shell title, a file name or mojibake."""
    if not candidate:
        return None
    title = " ".join(candidate.split())
    if _SHELL_TITLE.search(title) or looks_damaged(title):
        return None
    if title.lower() == unquote(urlsplit(url).path.rsplit("/", 1)[-1]).lower():
        return None  # a bare file name such as "README.md" is what a shell shows, not a title
    return title


def file_title(url: str) -> str | None:
    """The file name of a markdown URL, unless it is a generic README or index."""
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    stem, dot, ext = name.rpartition(".")
    if not dot or f".{ext.lower()}" not in _MD_EXT or stem.lower() in ("readme", "index"):
        return None
    return stem.strip() or None


def choose_title(candidates: list[str | None], anchor: str, url: str) -> str:
    """The first good candidate, else the anchor text (unless mojibake), else the URL's name."""
    for candidate in [*candidates, anchor]:
        title = good_title(candidate, url)
        if title:
            return title
    return url_name(url)


def _finish(
    text: str, kind: str, titles: list[str | None], anchor: str, url: str, min_chars: int
) -> Extracted | Skip:
    if len(text) < min_chars:
        return Skip("too_short", f"only {len(text)} characters of text (< {min_chars}): {url}")
    title = choose_title(titles, anchor, url)
    return Extracted(title=title, text=text, language=detect_language(text), kind=kind)


def _extract_markdown(text: str, anchor: str, url: str, min_chars: int) -> Extracted | Skip:
    markdown = normalize_markdown(text)
    if _is_listing_markdown(markdown):
        return Skip("listing", f"a list of links, not an article: {url}")
    heads = _headings(markdown)
    # A single top-level heading is the title; several are numbered sections ("0x1. 背景").
    h1s = [title for level, title in heads if level == 1]
    h1 = h1s[0] if len(h1s) == 1 else None
    # A file's own name says more than a section heading such as "前言" or "1. 背景".
    titles = [h1, anchor, file_title(url), heads[0][1] if heads else None]
    return _finish(markdown, "markdown", titles, "", url, min_chars)


def _main_region(root: lxml.html.HtmlElement) -> lxml.html.HtmlElement:
    for path in ("//main", "//article", "//*[@role='main']", "//body"):
        found = root.xpath(path)
        if found:
            return found[0]
    return root


def _is_listing_html(region: lxml.html.HtmlElement) -> bool:
    for dropped in region.xpath(".//nav|.//header|.//footer|.//script|.//style|.//aside"):
        dropped.drop_tree()
    links = region.xpath(".//a[@href]")
    if not links:
        return False
    total = len("".join(region.text_content().split()))
    in_links = sum(len("".join(a.text_content().split())) for a in links)
    return total - in_links < max(_LISTING_TEXT, 0.1 * total)


def _extract_html(text: str, anchor: str, url: str, min_chars: int) -> Extracted | Skip:
    try:
        root = lxml.html.fromstring(text)
    except (lxml.etree.ParserError, ValueError) as exc:
        return Skip("empty", f"unparseable HTML ({exc}): {url}")
    region = _main_region(root)
    h1 = region.xpath("string(.//h1[1])") or None
    page_title = root.xpath("string(//title)") or None
    if _is_listing_html(region):
        return Skip("listing", f"a directory or link listing page, not an article: {url}")
    body = trafilatura.extract(
        text,
        url=url,
        output_format="markdown",
        include_tables=True,
        include_comments=False,
        include_formatting=True,
        include_links=False,
        include_images=False,
    )
    if not body:
        return Skip("too_short", f"no main text found: {url}")
    meta = trafilatura.extract_metadata(text, default_url=url)
    markdown = normalize_markdown(body)
    heads = _headings(markdown)
    titles = [
        meta.title if meta else None,
        clean_inline(str(h1)) if h1 else None,
        heads[0][1] if heads else None,
        page_title,
    ]
    done = _finish(markdown, "html", titles, anchor, url, min_chars)
    if isinstance(done, Extracted) and meta is not None:
        done.author, done.date = meta.author, meta.date
    return done


def extract_page(
    result: FetchResult, anchor: str = "", *, min_chars: int = 200
) -> Extracted | Skip:
    """Article text of a fetched page, or why it is not an article."""
    url = result.final_url or result.url
    if not result.ok:
        return Skip("fetch_error", result.error or f"status {result.status}: {url}")
    text = decode_body(result.body, result.content_type)
    if not text.strip():
        return Skip("empty", f"empty response: {url}")
    kind = page_kind(result, text)
    if kind == "html":
        return _extract_html(text, anchor, url, min_chars)
    if kind == "markdown":
        return _extract_markdown(text, anchor, url, min_chars)
    if kind == "text":
        return _finish(normalize_text(text), "text", [], anchor, url, min_chars)
    return Skip("unsupported", f"unsupported content type {result.content_type!r}: {url}")


def extract(result: FetchResult, anchor: str = "", *, min_chars: int = 200) -> Extracted | None:
    """Like `extract_page`, but None for anything that is not an article."""
    done = extract_page(result, anchor, min_chars=min_chars)
    return done if isinstance(done, Extracted) else None
