"""Stub pages: login walls, deleted posts, captchas, JS shells, binary bodies.

Each rule is a row of a table: the failure kind, a one-line description, and what gives the
page away (a phrase in its title or visible text, a marker in its raw HTML, or an element).
A rule only fires on a page with little visible text, so a real article that merely quotes
"该内容已被发布者删除" or mentions a captcha is still an article.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import lxml.etree  # type: ignore[import-untyped]  # lxml ships no type information
import lxml.html  # type: ignore[import-untyped]


@dataclass(frozen=True)
class StubRule:
    """A page with at most `max_visible` visible characters matching any of the patterns."""

    kind: str
    what: str
    text: str = ""  # regex over the title, visible text and <noscript> text
    html: str = ""  # regex over the raw HTML (scripts, attributes, class names)
    xpath: str = ""  # an element whose presence gives the page away
    max_visible: int = 1500


# First match wins, so specific rules come before the broad ones ("完成验证" is WeChat's
# block page, not a generic captcha; zhihu's sign-in page mentions 验证码).
STUB_RULES: tuple[StubRule, ...] = (
    StubRule(
        "deleted",
        "the post was deleted",
        text=r"该内容已被发布者删除|此内容已被发布者删除|你似乎来到了没有知识存在的荒原|该文章已被删除|内容已被作者删除",
        max_visible=800,
    ),
    StubRule(
        "violation",
        "the post was removed for violating rules",
        text=r"[此该]内容因违规无法查看|因涉嫌违反相关法律法规和政策|该内容已被屏蔽",
        max_visible=800,
    ),
    StubRule(
        "blocked",
        "the site refused this client (环境异常)",
        text=r"环境异常|完成验证后即可继续访问|访问过于频繁|Access Denied|Request blocked",
    ),
    StubRule(
        "login_wall",
        "a sign-in page instead of the article",
        text=r"登录知乎|验证码登录|密码登录|扫码登录|登录后查看|登录后才能查看全文|请先登录|"
        r"Sign in to continue|Log in to continue|Sign in to read",
        max_visible=2500,
    ),
    StubRule(
        "captcha",
        "a captcha or anti-bot check",
        text=r"安全验证|人机验证|滑动验证|拖动滑块|请完成.{0,6}验证|请输入验证码|"
        r"Verify (?:you are|that you are) (?:a )?human|Checking your browser|Just a moment\.\.\.|"
        r"Attention Required|unusual traffic|Are you a robot",
        html=r"challenge-platform|cf_chl_opt|cf-chl-|g-recaptcha|h-captcha|geetest_|captcha-delivery",
    ),
    StubRule(
        "js_shell",
        "a JavaScript-only shell with no server-rendered text",
        text=r"enable JavaScript|JavaScript is (?:disabled|required)|"
        r"(?:启用|开启|打开|支持|允许).{0,4}JavaScript|JavaScript.{0,6}(?:被禁用|已禁用)",
        xpath="//body//*[@id='app' or @id='root' or @id='__next' or @id='__nuxt'"
        " or @id='app-root'][not(normalize-space())]",
        max_visible=200,
    ),
    StubRule(
        "deleted",
        "a not-found page",
        text=r"\b404\b|Page Not Found|页面不存在|页面找不到|页面没有找到|文章不存在|内容不存在",
        max_visible=400,
    ),
)

_HIDDEN = "ancestor::script or ancestor::style or ancestor::noscript or ancestor::template"
_VISIBLE = lxml.etree.XPath(f"//body//text()[not({_HIDDEN})]")
_NOSCRIPT = lxml.etree.XPath("//noscript//text()")
_COMPILED = {
    id(rule): (
        re.compile(rule.text, re.I) if rule.text else None,
        re.compile(rule.html, re.I) if rule.html else None,
        lxml.etree.XPath(rule.xpath) if rule.xpath else None,
    )
    for rule in STUB_RULES
}

# Magic numbers of formats a server may label text/html by mistake.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1f\x8b", "gzip data"),
    (b"\x7fELF", "an ELF executable"),
    (b"\xd0\xcf\x11\xe0", "an Office document"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7z archive"),
    (b"wOF", "a web font"),
    (b"OggS", "an Ogg file"),
    (b"ID3", "an MP3 file"),
)
_TEXT_CONTROLS = frozenset(b"\t\n\r\f\x1b")


def binary_kind(body: bytes) -> str | None:
    """What a body is when it is not text (by magic number or control bytes), else None."""
    for magic, what in _MAGIC:
        if body.startswith(magic):
            return what
    if body.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None  # UTF-16 text has NUL bytes by design
    head = body[:4096]
    controls = sum(1 for byte in head if byte < 0x20 and byte not in _TEXT_CONTROLS)
    if b"\x00" in head or controls > 0.05 * len(head):
        return "binary data"
    return None


def visible_text(root: lxml.html.HtmlElement) -> str:
    """The text a reader sees in the body: scripts, styles and <noscript> left out."""
    return " ".join(" ".join(str(t) for t in _VISIBLE(root)).split())


def detect_stub(root: lxml.html.HtmlElement, html: str, visible: str) -> tuple[str, str] | None:
    """(kind, description) of the first stub rule the page matches, else None."""
    title = " ".join(str(root.xpath("string(//title)")).split())
    noscript = " ".join(str(t) for t in _NOSCRIPT(root))
    size = len("".join(visible.split()))
    haystack = f"{title}\n{visible}\n{noscript}"
    for rule in STUB_RULES:
        if size > rule.max_visible:
            continue
        text_re, html_re, xpath = _COMPILED[id(rule)]
        if (
            (text_re is not None and text_re.search(haystack))
            or (html_re is not None and html_re.search(html))
            or (xpath is not None and xpath(root))
        ):
            return rule.kind, rule.what
    return None
