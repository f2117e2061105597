"""WARC sources and replay, live ingest with record, incremental runs, the shared corpus."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import LoopbackServer, Route
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from ingest import ArticleStore, FetchSettings, IngestSettings, parse_source_spec, run_ingest
from ingest.archive import WarcReplay, iter_warc

GH = "https://github.com/o/r"
RAW = "https://raw.githubusercontent.com/o/r"
ARTICLE = (
    "# FlashAttention 笔记\n\n"
    + "FlashAttention 通过分块计算减少显存读写，从而加速注意力。\n\n" * 12
)
OTHER = (
    "# Ring Attention\n\n"
    + "Ring attention passes key and value blocks around a ring of devices.\n\n" * 6
)


def shell(title: str, main: str) -> bytes:
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title></head><body><header><nav>"
        f"<a href='/login'>Sign in</a></nav></header><main>{main}</main><footer>© GitHub</footer>"
        "</body></html>"
    ).encode()


def write_warc(path: Path, records: list[tuple[str, str, bytes, int]]) -> Path:
    with open(path, "wb") as stream:
        writer = WARCWriter(stream, gzip=True)
        for url, ctype, body, status in records:
            headers = StatusAndHeaders(
                f"{status} OK", [("Content-Type", ctype), ("ETag", '"e1"')], protocol="HTTP/1.1"
            )
            record = writer.create_warc_record(
                url, "response", payload=io.BytesIO(body), http_headers=headers
            )
            writer.write_record(record)
    return path


@pytest.fixture
def tiny_warc(tmp_path: Path) -> Path:
    blob_html = shell(
        "a.md at main · o/r",
        "<article><h1>FlashAttention 笔记</h1><p>FlashAttention 通过分块计算减少显存读写。</p>"
        "</article>",
    )
    tree = shell(
        "docs at main · o/r",
        "<ul>"
        + "".join(f"<li><a href='{GH}/blob/main/{n}'>{n}</a></li>" for n in ("a.md", "b.md"))
        + "</ul>",
    )
    return write_warc(
        tmp_path / "tiny.warc.gz",
        [
            (f"{GH}/blob/main/a.md", "text/html; charset=utf-8", blob_html, 200),
            (f"{RAW}/main/a.md", "text/plain; charset=utf-8", ARTICLE.encode(), 200),
            (f"{GH}/tree/main", "text/html; charset=utf-8", tree, 200),
            (f"{RAW}/main/moved/a.md", "text/plain; charset=utf-8", ARTICLE.encode(), 200),
            (f"{RAW}/main/b.md", "text/plain; charset=utf-8", OTHER.encode(), 200),
            ("https://blog.example/gone", "text/html", b"gone", 404),
        ],
    )


def test_warc_source_merges_blob_raw_and_duplicates(tmp_path: Path, tiny_warc: Path) -> None:
    stages: list[tuple[str, int, int]] = []
    with ArticleStore.open(tmp_path / "data") as store:
        report = run_ingest(
            store,
            [parse_source_spec(f"warc:{tiny_warc}")],
            FetchSettings(),
            IngestSettings(),
            progress=lambda *event: stages.append(event),
        )
        articles = list(store.iter_articles())
        assert report.articles_new == 2 and report.duplicates == 1 and report.failed == 1
        assert report.skip_kinds == {"listing": 1} and report.errors == []
        assert stages[-1] == ("extract", 5, 5)
        first, second = articles
        assert first.url == f"{GH}/blob/main/a.md"  # the blob page is canonical
        assert first.title == "FlashAttention 笔记" and first.language == "zh"
        assert first.text.startswith("# FlashAttention")  # taken from the raw markdown
        assert set(first.aliases) == {
            f"{GH}/blob/main/a.md",
            f"{RAW}/main/a.md",
            f"{GH}/blob/main/moved/a.md",
            f"{RAW}/main/moved/a.md",
        }
        assert second.title == "Ring Attention" and second.language == "en"
        assert store.failures(5)[0][1] == "http_404"
        again = run_ingest(
            store, [parse_source_spec(str(tiny_warc))], FetchSettings(), IngestSettings()
        )
        assert again.articles_new == 0 and again.unchanged == 4 and store.stats().articles == 2


def test_replay_answers_by_url_canonical_and_raw(tiny_warc: Path) -> None:
    assert len(list(iter_warc(tiny_warc))) == 6
    with WarcReplay(tiny_warc) as replay:
        blob = replay.fetch(f"{GH}/blob/main/a.md#section")
        assert blob.ok and blob.final_url == f"{RAW}/main/a.md" and blob.etag == '"e1"'
        assert blob.url == f"{GH}/blob/main/a.md#section"
        assert replay.fetch(f"{GH}/tree/main?utm_source=x").ok
        miss = replay.fetch("https://zhuanlan.zhihu.com/p/1")
        assert miss.error_kind == "replay_miss" and "not in archive" in (miss.error or "")
        assert replay.fetch("https://blog.example/gone").error_kind == "http_404"
    with WarcReplay(tiny_warc, github_raw=False) as replay:
        assert replay.fetch(f"{GH}/blob/main/a.md").content_type.startswith("text/html")


def test_reading_list_under_replay(tmp_path: Path, tiny_warc: Path) -> None:
    listing = tmp_path / "list.md"
    listing.write_text(
        f"# List\n## Attention\n- [Flash]({GH}/blob/main/a.md)\n- [知乎](https://zhuanlan.zhihu.com/p/1)\n"
        f"- [Ring]({RAW}/main/b.md)\n",
        encoding="utf-8",
    )
    with ArticleStore.open(tmp_path / "data") as store:
        report = run_ingest(
            store,
            [parse_source_spec(f"list:{listing}")],
            FetchSettings(),
            IngestSettings(),
            replay=tiny_warc,
        )
        assert (report.links, report.fetched, report.failed, report.articles_new) == (3, 2, 1, 2)
        assert store.failures(5) == [
            (
                "https://zhuanlan.zhihu.com/p/1",
                "replay_miss",
                "not in archive tiny.warc.gz: https://zhuanlan.zhihu.com/p/1",
            )
        ]
        flash, ring = store.iter_articles()
        assert flash.topic == "List / Attention" and flash.title == "FlashAttention 笔记"
        assert ring.url == f"{GH}/blob/main/b.md"  # a raw link is stored under its blob page
        missing = run_ingest(
            store, [parse_source_spec(str(tmp_path / "nope.md"))], FetchSettings(), IngestSettings()
        )
        assert len(missing.errors) == 1 and "not found" in missing.errors[0]


def test_live_ingest_records_and_replays(
    tmp_path: Path, loopback_server: Callable[[dict[str, Route]], LoopbackServer]
) -> None:
    page = shell(
        "Ring Attention | Blog",
        "<article><h1>Ring Attention</h1>"
        + "".join(
            f"<p>Step {i}: ring attention passes key and value blocks to device {i + 1}, "
            "overlapping the transfer with compute.</p>"
            for i in range(4)
        )
        + "</article>",
    )
    routes = {
        "/list.md": Route(
            b"# Posts\n- [Ring](posts/ring.html)\n- [Dead](/dead)\n- [Notes](/notes.md)\n",
            "text/markdown",
        ),
        "/posts/ring.html": Route(page),
        "/notes.md": Route(OTHER.encode(), "text/markdown; charset=utf-8"),
    }
    server = loopback_server(routes)
    settings = FetchSettings(allow_loopback=True, retries=0)
    spec = parse_source_spec(server.url("/list.md"))
    warc = tmp_path / "rec.warc.gz"
    with ArticleStore.open(tmp_path / "live") as store:
        report = run_ingest(store, [spec], settings, IngestSettings(), record=warc)
        assert (report.links, report.fetched, report.failed, report.articles_new) == (3, 2, 1, 2)
        assert [a.title for a in store.iter_articles()] == ["Ring Attention", "Ring Attention"]
        again = run_ingest(store, [spec], settings, IngestSettings())
        assert (
            again.unchanged == 2
            and server.hits["/posts/ring.html"] == 1
            and server.hits["/dead"] == 2
        )
    with ArticleStore.open(tmp_path / "replayed") as store:
        report = run_ingest(store, [spec], FetchSettings(), IngestSettings(), replay=warc)
        assert report.articles_new == 2 and report.failed == 1


@pytest.mark.slow
def test_shared_corpus_gives_600_to_640_articles(tmp_path: Path, shared_corpus: Path) -> None:
    started = time.perf_counter()
    with ArticleStore.open(tmp_path / "data") as store:
        report = run_ingest(
            store, [parse_source_spec(f"warc:{shared_corpus}")], FetchSettings(), IngestSettings()
        )
        count = store.stats().articles
    assert 600 <= count <= 640, report
    assert report.skip_kinds.get("listing", 0) >= 229  # every directory page
    assert time.perf_counter() - started < 60
