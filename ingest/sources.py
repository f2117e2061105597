"""Source specs and reading lists: where links come from, with their anchor text and section."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import ftfy
import lxml.etree  # type: ignore[import-untyped]  # lxml ships no type information
import lxml.html  # type: ignore[import-untyped]

from ingest.types import Link, SourceKind, SourceSpec
from ingest.urls import canonical_url, is_http_url

log = logging.getLogger(__name__)

_KINDS = {kind.value: kind for kind in SourceKind}
_SKIP_SCHEMES = ("#", "mailto:", "tel:", "data:", "ftp:")
# Links a reader would click but that cannot be fetched: kept, so the ledger names them.
_BROKEN_LINK = re.compile(r"^(javascript:|[a-z][a-z0-9+.-]*://)", re.IGNORECASE)
_IMAGE_EXT = re.compile(r"\.(png|jpe?g|gif|svg|webp|ico|bmp)(\?.*)?$", re.IGNORECASE)
_BADGE_HOSTS = ("img.shields.io", "badge.fury.io", "badgen.net", "api.star-history.com")

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
# [text](url "title"); text may hold one level of brackets, url one level of parentheses.
_MD_LINK = re.compile(
    r"(!?)\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*<?([^()\s>]+(?:\([^()\s]*\)[^()\s>]*)*)>?"
    r"(?:\s+[\"'][^\"']*[\"'])?\s*\)"
)
_HTML_LINK = re.compile(r"<a\s[^>]*?href\s*=\s*[\"']([^\"']+)[\"'][^>]*>(.*?)</a\s*>", re.I | re.S)
_MD_REF_DEF = re.compile(r"^\s{0,3}\[([^\]]+)\]:\s*<?(\S+?)>?(?:\s+[\"'(].*)?$")
_MD_REF_USE = re.compile(r"\[([^\[\]]+)\]\[([^\[\]]*)\]")
_AUTOLINK = re.compile(r"<(https?://[^>\s]+)>")
_BARE_URL = re.compile(r"https?://[^\s<>()\[\]\"'，。、）]+")
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
_TAG = re.compile(r"<[^>]+>")
_EMOJI_CODE = re.compile(r":[a-z0-9_+-]+:")
# A Latin-1 letter glued to CJK, or two mojibake bytes in a row: UTF-8 read as cp1252.
_MOJIBAKE = re.compile(
    r"[\u00c0-\u00ff][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192"
    r"\u02c6\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
    r"|[\u00c0-\u00ff][\u3000-\u9fff\uff00-\uffef]|[\u3000-\u9fff\uff00-\uffef][\u00c0-\u00ff]"
)


class SourceError(ValueError):
    """A source spec that cannot be used, worded as one line with the fix."""

    cause = (
        "A source in `sources` or `--source` is malformed, or its reading list, URL list "
        "or folder cannot be read."
    )
    fix = (
        "Write `kind:location` with kind `list:`, `urls:`, `warc:` or `dir:`; check that "
        "the path exists or the URL answers."
    )


def parse_source_spec(spec: str) -> SourceSpec:
    """Parse `kind:location` ("list:", "urls:", "warc:", "dir:"), or guess the kind.

    A bare http(s) URL is a reading list; a bare path is a WARC (*.warc, *.warc.gz),
    a folder (dir) or otherwise a reading list.
    """
    text = spec.strip()
    if not text:
        raise SourceError("empty source spec: write list:, urls:, warc: or dir: and a location")
    prefix, sep, rest = text.partition(":")
    if sep and prefix.lower() in _KINDS:
        if not rest.strip():
            raise SourceError(f"source {text!r} has no location: write {prefix}:PATH_OR_URL")
        return SourceSpec(_KINDS[prefix.lower()], rest.strip())
    if is_http_url(text):
        return SourceSpec(SourceKind.LIST, text)
    if sep and len(prefix) > 1 and "/" not in prefix and "\\" not in prefix:
        raise SourceError(
            f"unknown source kind {prefix!r} in {text!r}: use list:, urls:, warc: or dir:"
        )
    lowered = text.lower()
    if lowered.endswith((".warc", ".warc.gz")):
        return SourceSpec(SourceKind.WARC, text)
    if Path(text).is_dir():
        return SourceSpec(SourceKind.DIR, text)
    return SourceSpec(SourceKind.LIST, text)


def _undo_cp1252(match: re.Match[str]) -> str:
    run = match.group(0)
    try:
        raw = run.encode("cp1252")
    except UnicodeEncodeError:
        return run  # holds characters cp1252 cannot produce: not this kind of mojibake
    decoded = raw.decode("utf-8", errors="replace")
    # Only a run that decodes to real multi-byte characters was mojibake; "é" alone stays.
    if any(ord(char) >= 0x800 and char != "\ufffd" for char in decoded):
        return decoded
    return run


def repair_text(text: str) -> str:
    """Undo mojibake (UTF-8 read as cp1252) where it can be undone.

    Bytes that cp1252 cannot map were lost, which defeats ftfy on those characters; so
    each run of non-ASCII characters is re-encoded as cp1252 and decoded as UTF-8 first,
    leaving U+FFFD where a byte is missing (which `looks_damaged` then flags), and ftfy
    cleans up the rest.
    """
    # Curly quotes and full-width punctuation are correct in Chinese text: keep them.
    repaired = _NON_ASCII_RUN.sub(_undo_cp1252, text)
    return str(ftfy.fix_text(repaired, uncurl_quotes=False, fix_character_width=False))


def looks_damaged(text: str) -> bool:
    """True when text still shows mojibake after repair, so it must not become a title."""
    return "\ufffd" in text or bool(_MOJIBAKE.search(text)) or bool(ftfy.badness.is_bad(text))


def clean_inline(text: str) -> str:
    """Anchor or heading text without markdown/HTML markup, emoji codes and extra spaces."""
    text = _MD_LINK.sub(lambda m: "" if m.group(1) else m.group(2), text)
    text = _TAG.sub(" ", text)
    text = _EMOJI_CODE.sub(" ", text)
    text = re.sub(r"[*`]+", "", text)
    # Underscores inside a word are part of identifiers like CUDA_VISIBLE_DEVICES, not emphasis.
    text = re.sub(r"(?<!\w)_+|_+(?!\w)", "", text)
    return " ".join(text.split()).strip()


_URL_WHITESPACE = re.compile(r"[\t\n\r]")


def _keep(url: str) -> bool:
    lowered = url.lower()
    if lowered.startswith(_SKIP_SCHEMES) or _IMAGE_EXT.search(lowered):
        return False
    return not any(host in lowered for host in _BADGE_HOSTS)


def _resolve(href: str, base: str | None) -> str | None:
    # Browsers drop tabs and newlines inside an href (WHATWG URL parsing); so do we.
    href = _URL_WHITESPACE.sub("", href.strip())
    if not href or not _keep(href):
        return None
    if is_http_url(href) or _BROKEN_LINK.match(href):
        return href
    if base is None or re.match(r"[a-z][a-z0-9+.-]*:", href, re.IGNORECASE):
        return None  # relative link without a base, or some other scheme
    joined = urljoin(base, href)
    return joined if is_http_url(joined) and _keep(joined) else None


def _is_badge(raw_anchor: str) -> bool:
    """An anchor made only of an image (badges, logos) names nothing."""
    has_image = "<img" in raw_anchor.lower() or "![" in raw_anchor
    return has_image and not clean_inline(raw_anchor)


def _line_links(line: str, refs: dict[str, str]) -> Iterator[tuple[str, str]]:
    """(href, raw anchor) pairs of one markdown line, in order of appearance."""
    found: list[tuple[int, str, str]] = []
    rest = line
    for pattern, href_group, text_group in ((_MD_LINK, 3, 2), (_HTML_LINK, 1, 2)):
        for match in pattern.finditer(rest):
            if pattern is _MD_LINK and match.group(1):
                continue  # an image, not a link
            found.append((match.start(), match.group(href_group), match.group(text_group)))
        rest = pattern.sub(lambda m: " " * len(m.group(0)), rest)
    for match in _MD_REF_USE.finditer(rest):
        key = (match.group(2) or match.group(1)).lower()
        if key in refs:
            found.append((match.start(), refs[key], match.group(1)))
    for match in _AUTOLINK.finditer(rest):
        found.append((match.start(), match.group(1), ""))
    rest = _AUTOLINK.sub(lambda m: " " * len(m.group(0)), rest)
    for match in _BARE_URL.finditer(rest):
        found.append((match.start(), match.group(0).rstrip(".,;:!?"), ""))
    for _, href, anchor in sorted(found, key=lambda item: item[0]):
        yield href, anchor


def _markdown_links(text: str, base: str | None) -> Iterator[tuple[str, str, tuple[str, ...]]]:
    lines = text.splitlines()
    refs = {m.group(1).lower(): m.group(2) for m in map(_MD_REF_DEF.match, lines) if m}
    heads: list[tuple[int, str]] = []
    in_code = False
    for line in lines:
        if _FENCE.match(line):
            in_code = not in_code
            continue
        heading = None if in_code else _HEADING.match(line)
        if heading:
            level = len(heading.group(1))
            heads = [h for h in heads if h[0] < level] + [(level, clean_inline(heading.group(2)))]
            continue
        if in_code or _MD_REF_DEF.match(line):
            continue
        for href, raw_anchor in _line_links(line, refs):
            url = _resolve(href, base)
            if url is not None and not _is_badge(raw_anchor):
                yield url, clean_inline(raw_anchor), tuple(h[1] for h in heads if h[1])


def _html_links(text: str, base: str | None) -> Iterator[tuple[str, str, tuple[str, ...]]]:
    root = lxml.html.fromstring(text)
    heads: list[tuple[int, str]] = []
    for element in root.iter():
        tag = element.tag if isinstance(element.tag, str) else ""
        if re.fullmatch(r"h[1-6]", tag):
            level = int(tag[1])
            title = clean_inline(element.text_content())
            heads = [h for h in heads if h[0] < level] + [(level, title)]
        elif tag == "a" and element.get("href"):
            anchor = clean_inline(element.text_content())
            if not anchor and element.find(".//img") is not None:
                continue  # badge or logo
            url = _resolve(element.get("href", ""), base)
            if url is not None:
                yield url, anchor, tuple(h[1] for h in heads if h[1])


def looks_like_html(text: str) -> bool:
    head = text.lstrip()[:1000].lower()
    return head.startswith(("<!doctype html", "<html")) or "<body" in head


def parse_reading_list(text: str, source: str = "", *, base_url: str | None = None) -> list[Link]:
    """Links of a markdown or HTML reading list, each with anchor text and heading path.

    Mojibake is repaired first. In-page anchors, images, badges and non-web schemes are
    skipped; relative links are resolved against `base_url` (default: the source's URL,
    if it is one) and dropped when there is none. Each canonical URL is kept once per
    section: a link listed under two headings keeps both (its article has both topics).
    """
    if base_url is None:
        location = source.split(":", 1)[1] if source.startswith(("list:", "urls:")) else source
        base_url = location if is_http_url(location) else None
    fixed = repair_text(text)
    found = _markdown_links(fixed, base_url)
    if looks_like_html(fixed):
        try:
            found = iter(list(_html_links(fixed, base_url)))
        except (lxml.etree.ParserError, ValueError):  # e.g. "<html" and nothing else
            log.warning("%s looks like HTML but does not parse; read as markdown", source)
    links: list[Link] = []
    seen: set[tuple[str, tuple[str, ...]]] = set()
    for url, anchor, section in found:
        key = (canonical_url(url), section)
        if key not in seen:
            seen.add(key)
            links.append(Link(url=url, anchor=anchor, source=source, section=section))
    return links


def parse_url_list(text: str, source: str = "") -> list[Link]:
    """One URL per line; blank lines and `#` comments are ignored, other junk is skipped."""
    links: list[Link] = []
    seen: set[str] = set()
    for line in text.splitlines():
        candidate = line.strip()
        if candidate and not candidate.startswith("#") and is_http_url(candidate):
            key = canonical_url(candidate)
            if key not in seen:
                seen.add(key)
                links.append(Link(url=candidate, source=source))
    return links
