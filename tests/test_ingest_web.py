"""A reading list pointing at a small hostile web on loopback, ingested end to end.

The fake zhihu login wall and WeChat deleted page must become ledger entries with
their kind, the slow, flaky and rate-limited routes must still yield articles, and a
recorded WARC must replay to the same articles with no server at all.
"""

from __future__ import annotations

from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from conftest import REPO, LoopbackServer, Route
from warcio.archiveiterator import ArchiveIterator

from ingest import ArticleStore, FetchSettings, IngestSettings, parse_source_spec, run_ingest

PAGES = REPO / "tests" / "fixtures" / "pages"
HEAD = (
    "<html><head><title>{t}</title></head><body><nav>首页 · 专栏 · 登录</nav><article><h1>{t}</h1>"
)
PARAGRAPH = (
    "<p>第 {i} 段：{t} 讲张量并行把每一层的矩阵乘法切到 {i} 张以上的卡上，每张卡只保存一部分权重，"
    "前向和反向各需要一次 all-reduce 来汇总结果。</p>"
)
FOOT = "</article><footer>© 2026</footer></body></html>"


def _page(title: str) -> bytes:
    paragraphs = "".join(PARAGRAPH.format(i=i, t=title) for i in range(2, 7))
    return (HEAD.format(t=title) + paragraphs + FOOT).encode()


def _sometimes(status: int, good: bytes, failures: int, **headers: str) -> Route:
    """Fails `failures` times with `status` (and headers), then serves `good`."""
    left = [failures]

    def handle(h: BaseHTTPRequestHandler) -> None:
        body, code, extra = good, 200, {}
        if left[0] > 0:
            left[0] -= 1
            body, code, extra = b"busy", status, headers
        h.send_response(code)
        h.send_header("Content-Type", "text/html; charset=utf-8")
        h.send_header("Content-Length", str(len(body)))
        for key, value in extra.items():
            h.send_header(key, value)
        h.end_headers()
        h.wfile.write(body)

    return Route(handler=handle)


def _web(start: Callable[[dict[str, Route]], LoopbackServer]) -> LoopbackServer:
    routes = {
        "/p/login": Route((PAGES / "zhihu_login.html").read_bytes()),
        "/s/deleted": Route((PAGES / "wechat_deleted.html").read_bytes()),
        "/good": Route(_page("好文章")),
        "/slow": Route(_page("慢页面"), delay=0.4),
        "/flaky": _sometimes(503, _page("偶尔出错"), 1),
        "/limited": _sometimes(429, _page("限流页面"), 1, **{"Retry-After": "0"}),
        "/gone": Route(b"gone", "text/plain", 410),
    }
    server = start(routes)
    items = "\n".join(f"- [{path.strip('/')}]({server.url(path)})" for path in list(routes))
    listing = f"## 训练\n\n### 并行\n\n{items}\n- [坏链接](javascript:alert(1))\n"
    routes["/list.md"] = Route(listing.encode(), "text/markdown; charset=utf-8")
    return server


def _settings() -> FetchSettings:
    return FetchSettings(
        allow_loopback=True, per_host_delay=0, retries=2, max_backoff=0.05, timeout=5
    )


def test_hostile_web_lands_in_the_ledger_with_kinds(
    tmp_path: Path, loopback_server: Callable[[dict[str, Route]], LoopbackServer]
) -> None:
    server = _web(loopback_server)
    warc = tmp_path / "crawl.warc.gz"
    spec = parse_source_spec(f"list:{server.url('/list.md')}")
    with ArticleStore.open(tmp_path / "live") as store:
        report = run_ingest(store, [spec], _settings(), IngestSettings(), record=warc)
        articles = list(store.iter_articles())
        summary = store.ledger_summary()
    titles = sorted(a.title for a in articles)
    assert titles == ["偶尔出错", "好文章", "慢页面", "限流页面"]
    assert {a.topic for a in articles} == {"训练 / 并行"}
    kinds = summary["failure_kinds"]
    assert kinds["login_wall"]["example"].endswith("/p/login")
    assert kinds["deleted"]["example"].endswith("/s/deleted")
    assert kinds["http_410"]["count"] == 1
    assert kinds["bad_url"]["example"] == "javascript:alert(1)"
    assert server.hits["/flaky"] == 2 and server.hits["/limited"] == 2  # one retry each
    assert report.failed >= 1 and report.articles_new == 4

    # The recorded crawl holds request/response pairs and replays to the same articles.
    with open(warc, "rb") as stream:
        types = [record.rec_type for record in ArchiveIterator(stream)]
    assert types.count("request") == types.count("response") > 0
    with ArticleStore.open(tmp_path / "replayed") as store:
        run_ingest(store, [spec], _settings(), IngestSettings(), replay=warc)
        assert sorted(a.title for a in store.iter_articles()) == titles
        replayed = store.ledger_summary()["failure_kinds"]
    assert {"login_wall", "deleted", "bad_url"} <= set(replayed)
