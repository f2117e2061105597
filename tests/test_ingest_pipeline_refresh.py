"""Refresh with conditional GET, stale links, the raw cache and --reextract, provenance."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import LoopbackServer, Route

from ingest import (
    ArticleStore,
    FetchSettings,
    IngestOptions,
    IngestSettings,
    parse_source_spec,
    run_ingest,
)

BODY = "<html><head><title>{t}</title></head><body><article><h1>{t}</h1>{p}</article></body></html>"


def page(title: str, words: str) -> bytes:
    paragraphs = "".join(
        f"<p>{words} paragraph {i} explains the idea in detail.</p>" for i in range(6)
    )
    return BODY.format(t=title, p=paragraphs).encode()


SETTINGS = FetchSettings(allow_loopback=True, retries=0, per_host_delay=0, robots=False)


def _options(tmp_path: Path, **extra: bool) -> IngestOptions:
    return IngestOptions(raw_dir=tmp_path / "raw", all_sources=True, **extra)


def test_refresh_revalidates_with_etag_and_skips_unchanged(
    tmp_path: Path, loopback_server: Callable[[dict[str, Route]], LoopbackServer]
) -> None:
    routes = {
        "/list.md": Route(b"# L\n- [A](/a)\n- [B](/b)\n", "text/markdown"),
        "/a": Route(page("Alpha", "alpha"), headers={"ETag": '"a1"'}),
        "/b": Route(page("Beta", "beta")),
    }
    server = loopback_server(routes)
    spec = [parse_source_spec(server.url("/list.md"))]
    with ArticleStore.open(tmp_path / "data") as store:
        first = run_ingest(store, spec, SETTINGS, IngestSettings(), options=_options(tmp_path))
        assert first.articles_new == 2 and first.extracted == 2
        texts = {a.url: a.text for a in store.iter_articles()}
        again = run_ingest(store, spec, SETTINGS, IngestSettings(), options=_options(tmp_path))
        assert again.extracted == 0 and again.unchanged == 2 and server.hits["/a"] == 1
        # /a answers 304 only if the stored ETag is sent back; /b changed its body.
        routes["/a"] = Route(b"", status=304, headers={"ETag": '"a1"'})
        routes["/b"] = Route(page("Beta", "beta v2"))
        refreshed = run_ingest(
            store, spec, SETTINGS, IngestSettings(), options=_options(tmp_path, refresh=True)
        )
        assert (refreshed.revalidated, refreshed.not_modified) == (2, 1)
        assert refreshed.extracted == 1 and refreshed.articles_updated == 1
        after = {a.url: a.text for a in store.iter_articles()}
        a_url = server.url("/a")
        assert after[a_url] == texts[a_url]  # byte for byte: the index re-embeds nothing
        assert "beta v2" in after[server.url("/b")]
        row = store._conn.execute(
            "SELECT checked_at >= fetched_at, etag FROM fetches WHERE url = ?", (a_url,)
        ).fetchone()
        assert row == (1, '"a1"')
        # Same body again: not re-extracted either.
        same = run_ingest(
            store, spec, SETTINGS, IngestSettings(), options=_options(tmp_path, refresh=True)
        )
        assert same.extracted == 0 and same.not_modified == 2


def _conditional_server() -> tuple[ThreadingHTTPServer, list[str | None]]:
    """A server answering 304 exactly when If-None-Match carries its ETag."""
    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/list.md":
                body, ctype = b"- [A](/a)\n", "text/markdown"
            else:
                seen.append(self.headers.get("If-None-Match"))
                if self.headers.get("If-None-Match") == '"v1"':
                    self.send_response(304)
                    self.send_header("ETag", '"v1"')
                    self.end_headers()
                    return
                body, ctype = page("Alpha", "alpha"), "text/html; charset=utf-8"
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", '"v1"')
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


def test_refresh_sends_the_stored_etag(tmp_path: Path) -> None:
    server, seen = _conditional_server()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        spec = [parse_source_spec(base + "/list.md")]
        with ArticleStore.open(tmp_path / "data") as store:
            run_ingest(store, spec, SETTINGS, IngestSettings(), options=_options(tmp_path))
            report = run_ingest(
                store, spec, SETTINGS, IngestSettings(), options=_options(tmp_path, refresh=True)
            )
        assert seen == [None, '"v1"']
        assert report.not_modified == 1 and report.extracted == 0
    finally:
        server.shutdown()
        server.server_close()


def test_stale_links_leave_the_index_and_come_back(
    tmp_path: Path, loopback_server: Callable[[dict[str, Route]], LoopbackServer]
) -> None:
    routes = {
        "/list.md": Route(b"# L\n## X\n- [A](/a)\n## Y\n- [A again](/a)\n- [B](/b)\n"),
        "/a": Route(page("Alpha", "alpha")),
        "/b": Route(page("Beta", "beta")),
    }
    routes["/list.md"].content_type = "text/markdown"
    server = loopback_server(routes)
    spec = [parse_source_spec(server.url("/list.md"))]
    with ArticleStore.open(tmp_path / "data") as store:
        run_ingest(store, spec, SETTINGS, IngestSettings(), options=_options(tmp_path))
        alpha = next(a for a in store.iter_articles() if a.title == "Alpha")
        assert alpha.topics == ["L / X", "L / Y"] and alpha.topic == "L / X"
        routes["/list.md"] = Route(b"# L\n## Y\n- [B](/b)\n", "text/markdown")
        report = run_ingest(store, spec, SETTINGS, IngestSettings(), options=_options(tmp_path))
        assert report.stale_links == 2 and report.stale_articles == 1
        assert [a.title for a in store.iter_articles()] == ["Beta"]
        assert store.stats().stale == 1 and store.get_article(alpha.id or 0) is not None
        routes["/list.md"] = Route(b"# L\n## Z\n- [A](/a)\n- [B](/b)\n", "text/markdown")
        back = run_ingest(store, spec, SETTINGS, IngestSettings(), options=_options(tmp_path))
        assert back.stale_articles == 0 and back.extracted == 0 and server.hits["/a"] == 1
        alpha = next(a for a in store.iter_articles() if a.title == "Alpha")
        assert alpha.topics == ["L / X", "L / Z"]  # stored topic first, then live sections


def test_list_without_links_is_reported_and_keeps_old_links(
    tmp_path: Path, loopback_server: Callable[[dict[str, Route]], LoopbackServer]
) -> None:
    routes = {"/list.md": Route(b"- [A](/a)\n", "text/markdown"), "/a": Route(page("A", "a"))}
    server = loopback_server(routes)
    spec = [parse_source_spec(server.url("/list.md"))]
    with ArticleStore.open(tmp_path / "data") as store:
        run_ingest(store, spec, SETTINGS, IngestSettings(), options=_options(tmp_path))
        routes["/list.md"] = Route(b"# nothing here yet\n", "text/markdown")
        report = run_ingest(store, spec, SETTINGS, IngestSettings(), options=_options(tmp_path))
        assert report.warnings == [
            f"reading list {server.url('/list.md')} has no links (nothing to ingest from it)"
        ]
        assert report.stale_articles == 0 and store.stats().articles == 1
        kinds = store.ledger_summary()["failure_kinds"]
        assert kinds["no_links"]["example"] == server.url("/list.md")


def test_reextract_uses_the_raw_cache_without_fetching(
    tmp_path: Path, loopback_server: Callable[[dict[str, Route]], LoopbackServer]
) -> None:
    routes = {"/list.md": Route(b"- [A](/a)\n", "text/markdown"), "/a": Route(page("A", "a"))}
    server = loopback_server(routes)
    spec = [parse_source_spec(server.url("/list.md"))]
    with ArticleStore.open(tmp_path / "data") as store:
        run_ingest(store, spec, SETTINGS, IngestSettings(), options=_options(tmp_path))
        assert list((tmp_path / "raw").rglob("*.body.gz"))
        hits = dict(server.hits)
        report = run_ingest(
            store,
            spec,
            SETTINGS,
            IngestSettings(min_chars=10_000),  # a changed setting: now too short
            options=_options(tmp_path, reextract=True),
        )
        assert server.hits == hits  # not even the list was fetched
        assert report.extracted == 1 and report.skip_kinds == {"too_short": 1}
        no_cache = run_ingest(
            store,
            spec,
            SETTINGS,
            IngestSettings(),
            options=IngestOptions(reextract=True, raw_dir=tmp_path / "elsewhere"),
        )
        assert no_cache.extracted == 0 and "no raw cached response" in no_cache.warnings[0]


@pytest.mark.parametrize("kind", ["list", "urls"])
def test_provenance_from_two_lists(tmp_path: Path, kind: str) -> None:
    first = tmp_path / "one.md"
    first.write_text("# One\n- [A](https://e.x/a)\n", encoding="utf-8")
    second = tmp_path / "two.txt"
    second.write_text("https://e.x/a\n", encoding="utf-8")
    with ArticleStore.open(tmp_path / "data") as store:
        store.add_links([])
        from ingest.sources import parse_reading_list, parse_url_list

        store.replace_links(f"list:{first}", parse_reading_list(first.read_text(), f"list:{first}"))
        other = parse_url_list(second.read_text(), f"urls:{second}")
        if kind == "list":
            other = parse_reading_list("# Two\n## Sub\n- [A](https://e.x/a#x)\n", f"list:{second}")
        store.replace_links(f"{kind}:{second}", other)
        from ingest import Article
        from ingest.dedup import text_hash

        store.add_article(Article("https://e.x/a", "A", "text", text_hash("text")))
        [article] = store.iter_articles()
        expected = ["One", "Two / Sub"] if kind == "list" else ["One"]
        assert article.topics == expected and article.topic == "One"
