"""End to end through the real CLI: reading list → fetch → articles → index → cited answer.

The demo site is served by a real loopback HTTP server (live fetching) or replayed from
a WARC written by the demo's own script; the slow tier builds the whole shared archive.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from conftest import DEMO, LoopbackServer, Route, demo_routes, run_cli

from ingest import ArticleStore
from ui.cli import main

DEMO_HOST = "https://demo.linkrag.invalid"


def _write_config(tmp_path: Path, sources: list[str], allow_loopback: bool = False) -> Path:
    config = {
        "sources": sources,
        "fetch": {"allow_loopback": allow_loopback, "retries": 0},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _article_text(data: Path, url: str) -> str:
    with ArticleStore.open(data) as store:
        for article in store.iter_articles():
            if article.url == url:
                return article.text
    raise AssertionError(f"no article with url {url}")


def _check_cited_answer(capsys: pytest.CaptureFixture[str], config: Path, data: Path) -> None:
    question = "ZeRO-3 怎么切分参数、梯度和优化器状态？"
    assert main(["--config", str(config), "ask", "--json", question]) == 0
    (answer,) = _json_lines(capsys.readouterr().out)
    assert answer["question"] == question and answer["abstained"] is False
    citations = answer["citations"]
    assert isinstance(citations, list) and citations
    assert citations[0]["url"].endswith("/posts/zero.html")
    for citation in citations:
        assert citation["quote"] in _article_text(data, citation["url"])
        assert f"[{citation['n']}]" in str(answer["answer"])


@pytest.fixture
def demo_server(
    loopback_server: Callable[[dict[str, Route]], LoopbackServer],
) -> LoopbackServer:
    """The demo site on loopback, its reading list rewritten to point at the server."""
    routes = demo_routes()
    server = loopback_server(routes)
    listing = (DEMO / "reading-list.md").read_text(encoding="utf-8")
    routes["/reading-list.md"] = Route(
        listing.replace(DEMO_HOST, server.base).encode(), "text/markdown; charset=utf-8"
    )
    return server


def test_demo_builds_from_a_live_reading_list_and_answers_with_citations(
    tmp_path: Path, demo_server: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _write_config(tmp_path, [f"list:{demo_server.url('/reading-list.md')}"], True)
    data = tmp_path / "data"
    assert main(["--config", str(config), "build"]) == 0
    capsys.readouterr()  # the build's human summary
    assert main(["--config", str(config), "status", "--json"]) == 0
    status = _json_lines(capsys.readouterr().out)[-1]
    # 12 articles; the listing page and the login wall are not articles; 2 links are 404s.
    assert status["articles"] == 12
    assert status["links"] == 16
    assert status["fetch_failures"] == 2
    assert status["chunks"] and status["index_version"] and status["embedder"] == "use-m3"
    _check_cited_answer(capsys, config, data)
    # Incremental: a second ingest fetches only links that are not already stored.
    before = dict(demo_server.hits)
    assert main(["--config", str(config), "ingest"]) == 0
    refetched = {p for p, n in demo_server.hits.items() if n > before.get(p, 0)}
    assert refetched <= {
        "/robots.txt",  # fetched once per host per run
        "/reading-list.md",
        "/notes/continuous-batching.md",
        "/posts/smoothquant-w8a8.html",
    }
    # --refresh revalidates every stored page; nothing changed, so nothing is re-embedded.
    capsys.readouterr()
    assert main(["--config", str(config), "ingest", "--refresh"]) == 0
    assert main(["--config", str(config), "index"]) == 0
    out = capsys.readouterr().out
    assert "index: up to date" in out, out
    assert demo_server.hits["/posts/zero.html"] == 2  # fetched, then revalidated once


def test_demo_builds_offline_from_its_warc(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    warc = tmp_path / "demo.warc.gz"
    subprocess.run([sys.executable, str(DEMO / "make_warc.py"), str(warc)], check=True)
    data = tmp_path / "data"
    config = DEMO / "config.yaml"  # the demo's own config; LINKRAG_DATA relocates its state
    assert main(["--config", str(config), "build", "--replay", str(warc)]) == 0
    capsys.readouterr()
    assert main(["--config", str(config), "status", "--json"]) == 0
    assert _json_lines(capsys.readouterr().out)[-1]["articles"] == 12
    _check_cited_answer(capsys, config, data)
    assert main(["--config", str(config), "ask", "--json", "澳大利亚的首都是哪里？"]) == 0
    assert _json_lines(capsys.readouterr().out)[0]["abstained"] is True


@pytest.mark.slow
def test_shared_archive_acceptance(shared_archive: Path) -> None:
    """The issue's acceptance commands, as real subprocesses of the installed CLI, over the
    session's build of the archive (`linkrag build --replay … --source warc:…`)."""
    status = json.loads(run_cli(shared_archive, "status", "--json"))
    assert 600 <= status["articles"] <= 640
    (search,) = _json_lines(
        run_cli(
            shared_archive, "search", "--json", "-k", "5", stdin="ZeRO-3 是如何切分模型参数的？\n"
        )
    )
    hits = search["hits"]
    assert isinstance(hits, list) and len(hits) == 5
    assert all(h["url"].startswith("https://github.com/") and "/blob/" in h["url"] for h in hits)
    assert any("ZeRO" in h["text"] for h in hits)
    (answer,) = _json_lines(
        run_cli(shared_archive, "ask", "--json", "What does PagedAttention solve?")
    )
    assert answer["abstained"] is False and answer["citations"]
    for citation in answer["citations"]:
        assert citation["quote"] in _article_text(shared_archive, citation["url"])
