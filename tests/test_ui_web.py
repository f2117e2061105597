"""The Gradio app over loopback, driven by gradio_client like a real user."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gradio_client import Client
from test_assistant_corpus import ARTICLES, ListStore

from assistant import AppConfig, Assistant
from index import Embedder, IndexSettings
from ui.web import build_app, message_text


def launch(assistant: Assistant) -> Iterator[Client]:
    app = build_app(assistant)
    app.launch(server_name="127.0.0.1", server_port=None, prevent_thread_lock=True, quiet=True)
    try:
        yield Client(app.local_url, verbose=False)
    finally:
        app.close()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, use: Embedder) -> Iterator[Client]:
    from index import build_index

    data_dir = tmp_path_factory.mktemp("web") / "data"
    build_index(ListStore(ARTICLES), data_dir, IndexSettings(), embedder=use)
    yield from launch(Assistant(AppConfig(data_dir=data_dir)))


def test_chat_streams_a_cited_answer(client: Client) -> None:
    box, history = client.predict("What does PagedAttention solve?", [], api_name="/chat")
    assert box == ""
    assert [m["role"] for m in history] == ["user", "assistant"]
    reply = message_text(history[-1]["content"])
    assert "memory fragmentation of the KV cache" in reply
    assert "**Sources**" in reply and "https://example.org/vllm/paged-attention#:~:text=" in reply


def test_search_tab_returns_ranked_passages(client: Client) -> None:
    result = client.predict("LoRA 低秩矩阵", 3, api_name="/search")
    assert result.startswith(
        "**1. [LoRA 低秩微调](https://github.com/example/notes/blob/main/lora.md)"
    )


def test_empty_index_shows_a_friendly_message(tmp_path: Path) -> None:
    for client in launch(Assistant(AppConfig(data_dir=tmp_path / "none"))):
        _, history = client.predict("What is LoRA?", [], api_name="/chat")
        assert "linkrag build" in message_text(history[-1]["content"])
        assert "linkrag build" in client.predict("LoRA", 5, api_name="/search")


def test_message_text_reads_gradio_content_parts() -> None:
    assert message_text([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]) == "ab"
    assert message_text("plain") == "plain" and message_text(None) == ""
