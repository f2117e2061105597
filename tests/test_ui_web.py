"""The Gradio app over loopback, driven by gradio_client like a real user."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client
from test_assistant_corpus import build_corpus_index
from ui_corpus import Corpus, ui_corpus

from assistant import AppConfig, Assistant
from index import Embedder
from ui import web
from ui.web import build_app, health_html, launch, message_text


def serve_app(assistant: Assistant) -> Iterator[Client]:
    app = build_app(assistant)
    launch(app, port=None, prevent_thread_lock=True, quiet=True)
    try:
        yield Client(app.local_url, verbose=False)
    finally:
        app.close()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, use: Embedder) -> Iterator[Client]:
    data_dir = tmp_path_factory.mktemp("web") / "data"
    build_corpus_index(data_dir, use)
    yield from serve_app(Assistant(AppConfig(data_dir=data_dir)))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, use: Embedder) -> Iterator[Corpus]:
    with ui_corpus(tmp_path_factory.mktemp("library")) as built:
        yield built


def ask(client: Client, question: str, chat: list[Any] | None = None, *args: Any) -> str:
    box, history = client.predict(question, chat or [], *args, api_name="/chat")
    assert box == ""
    return message_text(history[-1]["content"])


def test_chat_streams_a_cited_answer_with_source_cards(client: Client) -> None:
    job = client.submit("What does PagedAttention solve?", [], api_name="/chat")
    updates = [message_text(h[-1]["content"]) for _, h in job if h[-1]["role"] == "assistant"]
    final = updates[-1]
    assert len(updates) > 1 and "lr-streaming" in updates[0]  # it streamed before the cards
    assert "memory fragmentation of the KV cache" in final
    assert '<sup><a class="lr-ref" href="#lr-1-1">[1]</a></sup>' in final
    assert '<div class="lr-card" id="lr-1-1">' in final
    assert 'href="https://example.org/vllm/paged-attention#:~:text=' in final
    assert '<span class="lr-site">example.org</span>' in final
    assert '<span class="lr-topic">Inference</span>' in final


def test_follow_up_keeps_the_history_and_numbers_cards_per_turn(client: Client) -> None:
    _, history = client.predict("ZeRO-3 是如何切分模型参数的？", [], api_name="/chat")
    _, history = client.predict("它的显存占用呢？", history, api_name="/chat")
    assert [m["role"] for m in history] == ["user", "assistant"] * 2
    assert 'id="lr-3-1"' in message_text(history[-1]["content"])
    assert "ZeRO" in message_text(history[-1]["content"])


def test_top_k_setting_reaches_the_answerer(client: Client) -> None:
    one = ask(client, "What does FlashAttention avoid?", None, "extractive", 1)
    assert one.count('class="lr-card"') == 1


def test_search_highlights_terms_and_filters_by_section_and_site(client: Client) -> None:
    html = client.predict("LoRA 低秩矩阵", 3, "(any)", "(any)", api_name="/search")
    assert html.index("LoRA 低秩微调") < html.index("lr-snippet")  # the LoRA article first
    assert "<mark>LoRA</mark>" in html and "<mark>低秩矩阵</mark>" in html
    assert "score 0." in html
    only = client.predict("memory", 5, "Kernels", "(any)", api_name="/search")
    assert "FlashAttention" in only and "PagedAttention" not in only
    github = client.predict("memory", 5, "(any)", "github.com", api_name="/search")
    assert "example.org" not in github


def test_library_lists_articles_by_reading_list_and_the_failed_fetch(corpus: Corpus) -> None:
    for client in serve_app(Assistant(corpus.config)):
        status, articles, failures = client.predict(api_name="/library")
    assert f"<summary>{corpus.list_url} <small>(5 articles)" in articles
    assert "LLM reading list / Training / 分布式" in articles
    assert "Speculative decoding" in articles and "Other sources" in articles
    assert "<code>http_404</code> (1)" in failures and corpus.gone_url in failures
    assert "<dd>use-m3</dd>" in status and "<dt>index version</dt>" in status


def test_rebuild_runs_in_the_background_and_reports_progress(corpus: Corpus) -> None:
    for client in serve_app(Assistant(corpus.config)):
        started, _ = client.predict(api_name="/rebuild")
        assert "Rebuilding" in started
        deadline = time.monotonic() + 120
        text = ""
        while time.monotonic() < deadline:
            text = client.predict(api_name="/rebuild_progress")
            if "finished" in text or "failed" in text:
                break
            time.sleep(0.5)
        assert "Rebuild finished" in text, text
        assert "ingest:" in text and "index:" in text


def test_empty_index_shows_the_build_command(tmp_path: Path) -> None:
    assistant = Assistant(AppConfig(data_dir=tmp_path / "none"))
    banner = health_html(assistant)
    assert f"LINKRAG_DATA={tmp_path / 'none'} linkrag build" in banner
    for client in serve_app(assistant):
        assert "linkrag build" in ask(client, "What is LoRA?")
        assert "linkrag build" in client.predict("LoRA", 5, "(any)", "(any)", api_name="/search")


def test_index_config_mismatch_shows_what_to_run(tmp_path: Path, use: Embedder) -> None:
    data_dir = tmp_path / "data"
    build_corpus_index(data_dir, use)
    meta = next((data_dir / "index").glob("*/meta.json"))
    meta.write_text(meta.read_text().replace('"use-m3', '"other-model'), encoding="utf-8")
    banner = health_html(Assistant(AppConfig(data_dir=data_dir)))
    assert "cannot be used with this configuration" in banner
    assert "linkrag index --full" in banner


def test_serve_warns_on_a_public_address_without_auth(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(web, "launch", lambda app, host, port: calls.append({"host": host}))
    assistant = Assistant(AppConfig(data_dir=tmp_path))
    with caplog.at_level(logging.WARNING):
        web.serve(assistant, "0.0.0.0", 7999)
    assert "without auth" in caplog.text and calls == [{"host": "0.0.0.0"}]
    caplog.clear()
    monkeypatch.setenv("LINKRAG_UI_USER", "me")
    monkeypatch.setenv("LINKRAG_UI_PASSWORD", "secret")
    with caplog.at_level(logging.WARNING):
        web.serve(assistant, "0.0.0.0", 7999)
    assert "without auth" not in caplog.text
    assert web.ui_auth() == ("me", "secret")


def test_message_text_reads_gradio_content_parts() -> None:
    assert message_text([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]) == "ab"
    assert message_text("plain") == "plain" and message_text(None) == ""
