"""Hostile articles for the XSS tests: markup and script in titles, text, topics, URLs.

Not a test module. Every payload, if it ever ran, would set `window.__xss` or open a
dialog; `<img src=x>` would also request /x. `hostile_data_dir` writes the articles and
two fetch failures into a real store and indexes them, so the UI shows them everywhere:
chat answers, source cards, search results, the library and the fetch ledger.
"""

from __future__ import annotations

from pathlib import Path

from assistant import AppConfig, Assistant
from ingest import Article, ArticleStore, FetchResult

PAYLOADS = [
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=2">',
    '<svg onload="window.__xss=3"></svg>',
    '<a href="javascript:window.__xss=4">click here</a>',
    "[click me](javascript:window.__xss=5)",
    '<iframe src="javascript:window.__xss=6"></iframe>',
    '"><img src=x onerror=alert(7)>',
    "'><svg/onload=alert(8)>",
    '<details open ontoggle="window.__xss=9">',
    '<a href="jAvAsCrIpT:alert(10)">x</a>',
    "![pic](javascript:alert(11))",
    "<javascript:alert(12)>",
    "&lt;script&gt;window.__xss=13&lt;/script&gt;",
    '<math><mtext><table><mglyph><style><img src=x onerror="window.__xss=14">',
    '<object data="javascript:window.__xss=15"></object>',
    '<body onload="window.__xss=16">',
]
# Blank lines end an HTML block in Markdown: what follows them must not become markup.
BREAKOUT = "\n\n[blank-line link](javascript:window.__xss=19)\n\n<img src=x onerror=alert(20)>\n\n"
TITLE = "KV cache notes " + PAYLOADS[0] + PAYLOADS[1] + " " + PAYLOADS[4] + BREAKOUT
TOPIC = "Inference / " + PAYLOADS[2] + " " + PAYLOADS[3] + BREAKOUT
EVIL_URL = 'https://example.org/kv?q="><script>window.__xss=17</script>'
JS_URL = "javascript:window.__xss=18"
QUESTION = "What does the KV cache store for every token?"
SEARCH = "KV cache token"


def _sentences() -> str:
    lines = [
        f"The KV cache stores the keys and values of every token {payload} so decoding "
        f"does not recompute attention for earlier tokens."
        for payload in PAYLOADS
    ]
    return "# KV cache notes\n\n" + "\n".join(lines) + "\n"


ARTICLES = [
    Article(url=EVIL_URL, title=TITLE, text=_sentences(), language="en", topic=TOPIC),
    Article(
        url=JS_URL,
        title=PAYLOADS[5] + " KV cache paging",
        text="Paging the KV cache into fixed-size blocks avoids memory fragmentation for "
        f"every token. {PAYLOADS[6]} Blocks are shared between sequences. {PAYLOADS[8]}\n",
        language="en",
        topic=PAYLOADS[9],
    ),
]
FAILURES = [
    FetchResult(url=JS_URL, error=PAYLOADS[1], error_kind=PAYLOADS[2]),
    FetchResult(url="https://example.org/gone", error=PAYLOADS[0], error_kind="http_404"),
]


def hostile_data_dir(root: Path) -> AppConfig:
    """A store and index of the hostile articles under root/data; its config."""
    data_dir = root / "data"
    data_dir.mkdir(parents=True)
    with ArticleStore.open(data_dir) as store:
        for article in ARTICLES:
            store.add_article(article)
        for failure in FAILURES:
            store.record_fetch(failure, key=failure.url)
    config = AppConfig(data_dir=data_dir, sources=[])
    Assistant(config).reindex()
    return config
