"""Turn a fetched page into article text and metadata. Pure: no network, no files.

`extract_page` is the entry point. HTML goes through stub detection (ingest.stubs), a
listing check, trafilatura, and the per-site selector table (ingest.sites) when
trafilatura's output is too short or is not the article body; PDFs go through ingest.pdf.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import urlsplit

import lxml.etree  # type: ignore[import-untyped]  # lxml ships no type information
import lxml.html  # type: ignore[import-untyped]
import trafilatura

from ingest.fetch import decode_body
from ingest.markup import (
    bare_text,
    choose_title,
    detect_language,
    file_title,
    headings,
    is_listing_markdown,
    normalize_markdown,
    normalize_text,
    not_the_body,
)
from ingest.pdf import PdfError, read_pdf
from ingest.sites import Site, first_value, select_first, site_date, site_for
from ingest.sources import clean_inline, looks_like_html
from ingest.stubs import binary_kind, detect_stub, visible_text
from ingest.types import FetchResult

__all__ = ["Extracted", "Skip", "detect_language", "extract", "extract_page", "page_kind"]

log = logging.getLogger(__name__)


_HTML_TYPES = ("text/html", "application/xhtml+xml")
_MD_TYPES = ("text/markdown", "text/x-markdown")
_MD_EXT = (".md", ".markdown", ".mdx")
_LISTING_TEXT = 40  # fewer characters than this outside links, and the page is a list of links


@dataclass
class Extracted:
    """Main text and metadata of one article."""

    title: str
    text: str
    language: str
    kind: str  # html, markdown, text or pdf
    author: str | None = None
    date: str | None = None


class Skip(NamedTuple):
    """Why a page is not an article.

    kind: listing, too_short, empty, unsupported, fetch_error, binary, login_wall, blocked,
    deleted, violation, captcha or js_shell.
    """

    kind: str
    reason: str


def page_kind(result: FetchResult, text: str) -> str:
    """html, markdown, text, or unsupported, from the content type, URL and a sniff."""
    ctype = _media_type(result)
    path = urlsplit(result.final_url or result.url).path.lower()
    if ctype in _HTML_TYPES:
        return "html"
    if ctype in _MD_TYPES or (ctype in ("text/plain", "") and path.endswith(_MD_EXT)):
        return "markdown"
    if ctype.startswith("text/") or not ctype:
        return "html" if looks_like_html(text) else "text"
    return "unsupported"


def _media_type(result: FetchResult) -> str:
    return result.content_type.split(";", 1)[0].strip().lower()


def _is_pdf(result: FetchResult) -> bool:
    ctype = _media_type(result)
    path = urlsplit(result.final_url or result.url).path.lower()
    return (
        ctype == "application/pdf"
        or result.body.startswith(b"%PDF-")
        or (ctype in ("", "application/octet-stream") and path.endswith(".pdf"))
    )


def _finish(
    text: str,
    kind: str,
    titles: list[str | None],
    anchor: str,
    url: str,
    min_chars: int,
    page_chars: int | None = None,
) -> Extracted | Skip:
    if len(text) < min_chars:
        page = f" out of {page_chars} visible" if page_chars is not None else ""
        reason = f"only {len(text)} characters of text{page} (< {min_chars}): {url}"
        return Skip("too_short", reason)
    title = choose_title(titles, anchor, url)
    return Extracted(title=title, text=text, language=detect_language(text), kind=kind)


def _extract_markdown(text: str, anchor: str, url: str, min_chars: int) -> Extracted | Skip:
    markdown = normalize_markdown(text)
    if is_listing_markdown(markdown):
        return Skip("listing", f"a list of links, not an article: {url}")
    heads = headings(markdown)
    # A single top-level heading is the title; several are numbered sections ("0x1. 背景").
    h1s = [title for level, title in heads if level == 1]
    h1 = h1s[0] if len(h1s) == 1 else None
    # A file's own name says more than a section heading such as "前言" or "1. 背景".
    titles = [h1, anchor, file_title(url), heads[0][1] if heads else None]
    return _finish(markdown, "markdown", titles, "", url, min_chars)


def _extract_pdf(body: bytes, anchor: str, url: str, min_chars: int) -> Extracted | Skip:
    try:
        pdf = read_pdf(body)
    except PdfError as exc:
        return Skip("unsupported", f"{exc}: {url}")
    if not pdf.text.strip():
        return Skip("empty", f"a PDF of {pdf.pages} pages with no text layer (scanned?): {url}")
    done = _finish(
        normalize_text(pdf.text), "pdf", [pdf.title, pdf.first_line], anchor, url, min_chars
    )
    if isinstance(done, Extracted):
        done.author, done.date = pdf.author, pdf.date
    return done


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


def _trafilatura(html: str, url: str, *, recall: bool = False) -> str:
    """trafilatura's markdown: headings, tables, code and emphasis kept; links and images not."""
    found = trafilatura.extract(
        html,
        url=url,
        output_format="markdown",
        include_tables=True,
        include_comments=False,
        include_formatting=True,
        include_links=False,
        include_images=False,
        favor_recall=recall,
    )
    return found or ""


def _element_markdown(html: str, url: str) -> str:
    """Markdown of one body element: trafilatura on it alone, else its plain text."""
    wrapped = f"<html><body><article>{html}</article></body></html>"
    body = _trafilatura(wrapped, url, recall=True)
    fragment = lxml.html.fragment_fromstring(html, create_parent="div")
    for br in fragment.iter("br"):
        br.tail = "\n" + (br.tail or "")
    for block in fragment.iter("p", "div", "section", "li", "tr", "h1", "h2", "h3", "h4", "pre"):
        block.tail = "\n" + (block.tail or "")
    plain = normalize_text(re.sub(r"[ \t]+", " ", fragment.text_content()))
    # On a short fragment trafilatura may still drop lines; then plain text is the safer copy.
    return body if len(bare_text(body)) >= 0.9 * len(bare_text(plain)) else plain


def _site_body(root: lxml.html.HtmlElement, site: Site | None) -> tuple[str, str] | None:
    """(HTML, bare text) of the site's body element, when the page has one."""
    if site is None:
        return None
    found = select_first(root, site.body)
    if not found:
        return None
    element = max(found, key=lambda e: len(e.text_content()))
    return lxml.html.tostring(element, encoding="unicode"), bare_text(element.text_content())


def _main_text(html: str, site_body: tuple[str, str] | None, url: str, min_chars: int) -> str:
    """Markdown of the article body: trafilatura's, or the site selector's when that is better."""
    body = normalize_markdown(_trafilatura(html, url), dedent=True)
    if site_body is None or not site_body[1] or not not_the_body(body, site_body[1], min_chars):
        return body
    fallback = normalize_markdown(_element_markdown(site_body[0], url), dedent=True)
    if len(bare_text(fallback)) > 0.5 * len(bare_text(body)):
        log.debug("site selector used instead of trafilatura: %s", url)

        return fallback
    return body


def _site_metadata(
    html: str, root: lxml.html.HtmlElement, site: Site | None
) -> tuple[str | None, str | None, str | None]:
    """(title, author, date) from the site's selectors; read before the listing check prunes."""
    if site is None:
        return None, None, None
    title, author = first_value(root, site.title), first_value(root, site.author)
    return title, author, site_date(root, html, site)


def _extract_html(text: str, anchor: str, url: str, min_chars: int) -> Extracted | Skip:
    try:
        root = lxml.html.fromstring(text)
    except (lxml.etree.ParserError, ValueError) as exc:
        return Skip("empty", f"unparseable HTML ({exc}): {url}")
    visible = visible_text(root)
    stub = detect_stub(root, text, visible)
    if stub is not None:
        return Skip(stub[0], f"{stub[1]}: {url}")
    if not visible:
        return Skip("empty", f"a page with no visible text: {url}")
    site = site_for(url)
    region = _main_region(root)
    h1 = region.xpath("string(.//h1[1])") or None
    page_title = root.xpath("string(//title)") or None
    site_body = _site_body(root, site)  # taken before the listing check prunes the tree
    title, author, date = _site_metadata(text, root, site)
    if _is_listing_html(region):
        return Skip("listing", f"a directory or link listing page, not an article: {url}")
    markdown = _main_text(text, site_body, url, min_chars)
    if not markdown:
        reason = f"no main text found among {len(visible)} visible characters: {url}"
        return Skip("too_short", reason)
    meta = trafilatura.extract_metadata(text, default_url=url)
    heads = headings(markdown)
    titles = [
        title,
        meta.title if meta else None,
        clean_inline(str(h1)) if h1 else None,
        heads[0][1] if heads else None,
        page_title,
    ]
    done = _finish(markdown, "html", titles, anchor, url, min_chars, len(visible))
    if isinstance(done, Extracted) and meta is not None:
        done.author, done.date = author or meta.author, date or meta.date
    elif isinstance(done, Extracted):
        done.author, done.date = author, date
    return done


def extract_page(
    result: FetchResult, anchor: str = "", *, min_chars: int = 200
) -> Extracted | Skip:
    """Article text of a fetched page, or why it is not an article."""
    url = result.final_url or result.url
    if not result.ok:
        return Skip("fetch_error", result.error or f"status {result.status}: {url}")
    if not result.body.strip():
        return Skip("empty", f"empty response: {url}")
    if _is_pdf(result):
        return _extract_pdf(result.body, anchor, url, min_chars)
    ctype = _media_type(result)
    textual = not ctype or ctype.startswith("text/") or ctype in _HTML_TYPES
    if textual and (what := binary_kind(result.body)):
        return Skip("binary", f"{what} served as {ctype or 'no content type'}: {url}")
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
