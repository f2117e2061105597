"""The Gradio web app: chat, search, library with rebuild, and settings over one `Assistant`.

`build_app(assistant)` creates everything per app (no module globals): the feedback
store, the rebuild job and the session's answer settings all hang off the Blocks it
returns. The parts live in ui/chat.py and ui/tabs.py; their HTML in pure modules.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import gradio as gr

from assistant import Assistant, FeedbackStore
from assistant.redact import UI_PASSWORD_ENV, add_secret
from index import IndexLoadError, IndexNotFoundError
from ui.cards import esc
from ui.chat import build_chat, message_text, wire_chat
from ui.library import ChunkCounts, load_library
from ui.ratelimit import RateLimiter
from ui.settings_view import AnswerVariants
from ui.style import CSS
from ui.tabs import build_library, build_search, build_settings, filter_choices, library_views

__all__ = ["build_app", "health_html", "launch", "message_text", "serve"]

logger = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.1", "localhost", "::1")
_INTRO = (
    "## linkrag\nAsk about the articles your reading lists link to. Every sentence of an "
    "answer is quoted from an article and cited; a source card's link opens the article at "
    "the quote."
)


def health_html(assistant: Assistant) -> str:
    """A banner when the app cannot answer yet: no index, an empty one, or a mismatch."""
    build = f"LINKRAG_DATA={assistant.data_dir} linkrag build"
    try:
        chunks = getattr(assistant.index, "chunk_count", 1)
    except IndexNotFoundError:
        return _banner("There is no index yet, so there is nothing to search.", build)
    except IndexLoadError as exc:  # the message names the mismatch and the command
        rebuild = f"LINKRAG_DATA={assistant.data_dir} linkrag index --full"
        return _banner(f"The index cannot be used with this configuration: {exc}", rebuild)
    if not chunks:
        return _banner("The index is empty: no article has been fetched yet.", build)
    return ""


def _banner(problem: str, command: str) -> str:
    return (
        f'<div class="lr-banner"><p><b>{esc(problem)}</b></p><p>Run this in a terminal, then '
        f"reload the page (or use Rebuild in the Library tab):</p><pre><code>{esc(command)}"
        "</code></pre></div>"
    )


def build_app(assistant: Assistant) -> gr.Blocks:
    """The UI for one assistant; every handler closes over it (no module globals)."""
    variants = AnswerVariants(assistant)
    feedback = FeedbackStore.in_dir(assistant.data_dir)
    counts = ChunkCounts()
    limiter = RateLimiter(assistant.config.ui.rate_limit)  # per app: chat, search and the LLM probe

    def pick(mode: str | None, top_k: float | None) -> Assistant:
        return variants.get(mode, int(top_k) if top_k else None)

    with gr.Blocks(title="linkrag") as app:
        banner = gr.HTML(elem_id="lr-banner")
        gr.Markdown(_INTRO)
        with gr.Tab("Chat"):
            chatbot, box, turns = build_chat(pick, feedback)
            with gr.Accordion("Settings", open=False):
                settings = build_settings(assistant, limiter)
        with gr.Tab("Search"):
            section, site = build_search(assistant, limiter)
        with gr.Tab("Library"):
            views = build_library(assistant, counts)
        wire_chat(pick, chatbot, box, turns, list(settings), limiter)

        def on_load() -> tuple[Any, ...]:
            library = load_library(assistant, counts)
            return health_html(assistant), *library_views(library), *filter_choices(library)

        app.load(on_load, None, [banner, *views, section, site], api_visibility="private")
    app.queue(default_concurrency_limit=assistant.config.ui.concurrency)
    blocks: gr.Blocks = app
    return blocks


def ui_auth() -> tuple[str, str] | None:
    """Basic auth when LINKRAG_UI_USER and LINKRAG_UI_PASSWORD are both set."""
    user, password = os.environ.get("LINKRAG_UI_USER"), os.environ.get(UI_PASSWORD_ENV)
    add_secret(password)  # masked in every log line from now on
    return (user, password) if user and password else None


def launch(app: gr.Blocks, host: str = "127.0.0.1", port: int | None = 7860, **kwargs: Any) -> Any:
    """Start serving `app` with the app's CSS and env-var auth (tests pass port=None)."""
    return app.launch(
        server_name=host, server_port=port, auth=ui_auth(), css=CSS, show_error=True, **kwargs
    )


def serve(assistant: Assistant, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Serve the app until interrupted; binds loopback unless told otherwise."""
    if host not in LOOPBACK and ui_auth() is None:
        logger.warning(
            "serving on %s without auth: anyone who can reach this address can use the app "
            "and start rebuilds; set LINKRAG_UI_USER and LINKRAG_UI_PASSWORD",
            host,
        )
    launch(build_app(assistant), host, port)
