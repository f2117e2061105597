"""Text helpers for extraction: markdown cleanup, headings, titles, language. Pure."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote, urlsplit

from ingest.sources import clean_inline, looks_damaged
from ingest.urls import url_name

FENCE = re.compile(r"^\s*(```|~~~)")
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
_MD_EXT = (".md", ".markdown", ".mdx")
# Whitespace, markdown markup and list numbers (which HTML keeps out of the text).
_MARKUP = re.compile(r"\d+\.(?=\s)|[\s\\|#*`_>~+-]+")
# trafilatura's text is "not the body" when more than this share of it lies outside the
# site's body element (page chrome such as 阅读 / 赞 / 微信扫一扫), or when it holds less
# than _MISSED of the body element's text.
_FOREIGN = 0.2
_MISSED = 0.6
_CHROME_LINE = 12  # characters
_CHROME_LINES = 4
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+\.)\s")


def detect_language(text: str) -> str:
    """A coarse language tag: kana → ja, hangul → ko, enough Han characters → zh, else en."""
    han = len(_CJK.findall(text))
    if len(_KANA.findall(text)) > 20:
        return "ja"
    if len(_HANGUL.findall(text)) > 20:
        return "ko"
    # One Han character carries about as much as one English word.
    return "zh" if han and han >= 0.3 * len(_LATIN_WORD.findall(text)) else "en"


def normalize_markdown(text: str, *, dedent: bool = False) -> str:
    """Markdown as is, minus HTML comments, images (alt text kept) and tag-only lines.

    Code blocks are left untouched; images are dropped because their URLs are noise to
    search and HTML extraction drops them as well. `dedent` strips leading spaces outside
    code blocks and list items (whose indentation is their nesting): trafilatura copies the
    HTML source's indentation, which would turn "## heading" into a code block.
    """
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _COMMENT.sub("", text)
    out: list[str] = []
    in_code = False
    for line in text.split("\n"):
        if FENCE.match(line):
            in_code = not in_code
            line = line.lstrip() if dedent else line
        elif not in_code:
            line = _MD_IMAGE.sub(lambda m: m.group(1), _IMG.sub("", line))
            if _TAG_ONLY_LINE.match(line):
                continue
            line = line.lstrip() if dedent and not _LIST_ITEM.match(line) else line
        out.append(line.rstrip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def normalize_text(text: str) -> str:
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def headings(markdown: str) -> list[tuple[int, str]]:
    """(level, text) of every markdown heading outside code blocks."""
    found: list[tuple[int, str]] = []
    in_code = False
    for line in markdown.split("\n"):
        if FENCE.match(line):
            in_code = not in_code
        elif not in_code and (match := _HEADING.match(line)):
            title = clean_inline(match.group(2))
            if title:
                found.append((len(match.group(1)), title))
    return found


def is_listing_markdown(markdown: str) -> bool:
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


def bare_text(text: str) -> str:
    """Text without whitespace and markdown markup, to compare extractions."""
    return _MARKUP.sub("", text)


def not_the_body(extracted: str, body_text: str, min_chars: int) -> bool:
    """True when trafilatura's text is too short, misses the body, or is mostly page chrome."""
    if len(body_text) < min_chars:
        return False  # the body element is no better: a short page stays short
    if len(extracted) < min_chars:
        return True
    if len(bare_text(extracted)) < _MISSED * len(body_text):
        return True
    lines = [bare_text(line) for line in extracted.split("\n")]
    foreign = [line for line in lines if line and line not in body_text]
    # Page chrome shows as many short lines (阅读 / 1.2万 / 赞 / 分享) outside the body.
    chrome = sum(1 for line in foreign if len(line) <= _CHROME_LINE)
    return chrome >= _CHROME_LINES or sum(map(len, foreign)) > _FOREIGN * sum(map(len, lines))
