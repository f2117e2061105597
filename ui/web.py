"""The Gradio web app: a streaming, cited chat and a search tab over one `Assistant`."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

import gradio as gr

from assistant import Answer, Assistant
from assistant.prompts import question_language, reply
from index import IndexNotFoundError
from ui.render import answer_markdown, hits_markdown

logger = logging.getLogger(__name__)

Message = dict[str, Any]
_INTRO = (
    "# linkrag\nAsk about the articles your reading lists link to. Every sentence of an "
    "answer is quoted from an article and cited; follow a source link to read it in place."
)


def message_text(content: Any) -> str:
    """The plain text of a Gradio message content (a string or a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or content.get("content") or "")
    if isinstance(content, list | tuple):
        return "".join(message_text(part) for part in content)
    return ""


def _history(messages: list[Message]) -> list[dict[str, str]]:
    return [
        {"role": str(m.get("role", "")), "content": message_text(m.get("content"))}
        for m in messages
    ]


def _answer_events(
    assistant: Assistant, question: str, history: list[dict[str, str]]
) -> Iterator[str]:
    """The assistant message as it grows: deltas first, the rendered answer last."""
    shown = ""
    try:
        for event in assistant.stream(question, history):
            if isinstance(event, Answer):
                yield answer_markdown(event)
            else:
                shown += event
                yield shown
    except IndexNotFoundError:
        yield reply("no_index", question_language(question))


def _index_notice(assistant: Assistant) -> str:
    return "" if assistant.has_index() else f"> {reply('no_index', 'en')}"


def build_app(assistant: Assistant) -> gr.Blocks:
    """The UI for one assistant; every handler closes over it (no module globals)."""

    def respond(message: str, chat: list[Message]) -> Iterator[tuple[str, list[Message]]]:
        prior = list(chat or [])
        turn = [*prior, {"role": "user", "content": message}]
        if not message.strip():
            yield "", prior
            return
        for text in _answer_events(assistant, message, _history(prior)):
            yield "", [*turn, {"role": "assistant", "content": text}]

    def search(query: str, k: float) -> str:
        try:
            return hits_markdown(assistant.search(query, k=int(k)))
        except IndexNotFoundError:
            return reply("no_index", question_language(query))

    with gr.Blocks(title="linkrag") as app:
        gr.Markdown(_INTRO)
        gr.Markdown(_index_notice(assistant))
        with gr.Tab("Chat"):
            chatbot = gr.Chatbot(label="Answers", height=520)
            box = gr.Textbox(
                placeholder="Ask a question, e.g. What does PagedAttention solve?",
                show_label=False,
                submit_btn=True,
            )
            box.submit(respond, [box, chatbot], [box, chatbot], api_name="chat")
            gr.ClearButton([box, chatbot])
        with gr.Tab("Search"):
            with gr.Row():
                query = gr.Textbox(placeholder="Search the articles", show_label=False, scale=4)
                k = gr.Slider(1, 20, value=8, step=1, label="results", scale=1)
            results = gr.Markdown()
            query.submit(search, [query, k], results, api_name="search")
            gr.Button("Search").click(search, [query, k], results, api_visibility="private")
    app.queue(default_concurrency_limit=assistant.config.ui.concurrency)
    blocks: gr.Blocks = app
    return blocks


def _auth() -> tuple[str, str] | None:
    """Basic auth when LINKRAG_UI_USER and LINKRAG_UI_PASSWORD are both set."""
    user, password = os.environ.get("LINKRAG_UI_USER"), os.environ.get("LINKRAG_UI_PASSWORD")
    return (user, password) if user and password else None


def serve(assistant: Assistant, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Serve the app until interrupted; binds loopback unless told otherwise."""
    if host not in ("127.0.0.1", "localhost", "::1") and _auth() is None:
        logger.warning("serving on %s without auth: set LINKRAG_UI_USER/LINKRAG_UI_PASSWORD", host)
    build_app(assistant).launch(server_name=host, server_port=port, auth=_auth(), show_error=True)
