"""Per-site knowledge: where the article body and its metadata live, as CSS selectors.

The table is data, not code: adding a site is adding a row. Selectors use a small CSS
subset (tag, #id, .class, [attr], [attr=value], descendant) translated to XPath here,
because lxml's CSS support needs the cssselect package, which is not installed.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache
from urllib.parse import urlsplit

import lxml.etree  # type: ignore[import-untyped]  # lxml ships no type information
import lxml.html  # type: ignore[import-untyped]


@dataclass(frozen=True)
class Site:
    """Where one site keeps its article body, title, author and date, best selector first."""

    name: str
    hosts: tuple[str, ...]  # the host or any subdomain of it
    body: tuple[str, ...]
    title: tuple[str, ...] = ()
    author: tuple[str, ...] = ()
    date: tuple[str, ...] = ()
    date_script: str = ""  # regex over the raw HTML; group 1 is Unix seconds (set by JS)


SITES: tuple[Site, ...] = (
    Site(
        "wechat",
        ("mp.weixin.qq.com",),
        body=("#js_content",),
        title=("meta[property=og:title]", "#activity-name"),
        author=("#js_name", "meta[name=author]"),
        date=("#publish_time",),
        # The publish time is filled in by JavaScript from `var ct = "1709712000"`.
        date_script=r"\bct\s*=\s*\"(\d{9,11})\"",
    ),
    Site(
        "zhihu",
        ("zhihu.com",),
        body=(".Post-RichText", ".RichText"),
        title=(".Post-Title", ".QuestionHeader-title", "meta[property=og:title]"),
        author=(".AuthorInfo meta[itemprop=name]", ".AuthorInfo-name"),
        date=(".ContentItem-time",),
    ),
    Site(
        "juejin",
        ("juejin.cn", "juejin.im"),
        body=(".article-content", ".markdown-body"),
        title=(".article-title", "meta[property=og:title]"),
        author=("[itemprop=author] meta[itemprop=name]", ".author-name .name"),
        date=("time[datetime]", "meta[itemprop=datePublished]"),
    ),
    Site(
        "cnblogs",
        ("cnblogs.com",),
        body=("#cnblogs_post_body",),
        title=("#cb_post_title_url", ".postTitle"),
        author=("#Header1_HeaderTitle", ".postDesc a"),
        date=("#post-date",),
    ),
    Site(
        "csdn",
        ("csdn.net",),
        body=("#content_views",),
        title=("#articleContentId", ".title-article"),
        author=(".follow-nickName",),
        date=(".article-bar-top .time",),
    ),
    Site("github", ("github.com",), body=(".markdown-body",)),
)

_COMPOUND = re.compile(r"^(?P<tag>[a-zA-Z][\w-]*|\*)?(?P<rest>(?:[#.][\w-]+|\[[^\]]+\])*)$")
_PART = re.compile(r"([#.])([\w-]+)|\[\s*([\w-]+)\s*(?:=\s*['\"]?([^'\"\]]*)['\"]?\s*)?\]")
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
# Chinese sites publish in Beijing time; a UTC date would be a day early for evening posts.
_BEIJING = dt.timezone(dt.timedelta(hours=8))


def css_to_xpath(selector: str) -> str:
    """XPath for a CSS selector of the subset the table uses; ValueError for anything else."""
    steps: list[str] = []
    for compound in selector.split():
        match = _COMPOUND.match(compound)
        if not match or not compound:
            raise ValueError(f"unsupported CSS selector {selector!r}")
        conditions: list[str] = []
        for part in _PART.finditer(match["rest"]):
            if part[1] == "#":
                conditions.append(f"@id='{part[2]}'")
            elif part[1] == ".":
                conditions.append(
                    f"contains(concat(' ',normalize-space(@class),' '),' {part[2]} ')"
                )
            elif part[4] is not None:
                conditions.append(f"@{part[3]}='{part[4]}'")
            else:
                conditions.append(f"@{part[3]}")
        steps.append((match["tag"] or "*") + "".join(f"[{c}]" for c in conditions))
    return "//" + "//".join(steps)


@cache
def _compiled(selector: str) -> lxml.etree.XPath:
    return lxml.etree.XPath(css_to_xpath(selector))


def site_for(url: str) -> Site | None:
    """The table row for the URL's host, if any."""
    host = (urlsplit(url).hostname or "").lower()
    for site in SITES:
        if any(host == h or host.endswith("." + h) for h in site.hosts):
            return site
    return None


def select_first(
    root: lxml.html.HtmlElement, selectors: tuple[str, ...]
) -> list[lxml.html.HtmlElement]:
    """Elements matched by the first selector that matches anything."""
    for selector in selectors:
        found: list[lxml.html.HtmlElement] = _compiled(selector)(root)
        if found:
            return found
    return []


def _value(element: lxml.html.HtmlElement) -> str:
    if element.tag == "meta":
        raw = element.get("content") or ""
    elif element.tag == "time" and element.get("datetime"):
        raw = element.get("datetime")
    else:
        raw = element.text_content()
    return " ".join(str(raw).split())


def first_value(root: lxml.html.HtmlElement, selectors: tuple[str, ...]) -> str | None:
    """The text (or meta content, or time datetime) of the first selector with a non-empty value."""
    for selector in selectors:
        for element in _compiled(selector)(root):
            value = _value(element)
            if value:
                return value
    return None


def normalize_date(text: str | None) -> str | None:
    """YYYY-MM-DD from "2024-02-18T08:12:33Z", "发布于 2023-04-02 19:41", "2023年4月2日"."""
    match = _DATE.search(text or "")
    if not match:
        return None
    year, month, day = (int(g) for g in match.groups())
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def site_date(root: lxml.html.HtmlElement, html: str, site: Site) -> str | None:
    """The publish date from the site's selectors, else from its script variable."""
    found = normalize_date(first_value(root, site.date))
    if found or not site.date_script:
        return found
    match = re.search(site.date_script, html)
    if not match:
        return None
    return dt.datetime.fromtimestamp(int(match.group(1)), _BEIJING).date().isoformat()
