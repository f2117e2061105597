"""The Search, Library (with Rebuild) and Settings parts of the app.

Each builder creates its components inside the current Blocks context and wires their
events; the logic and HTML live in the pure modules next to this one.
"""

from __future__ import annotations

import time
from typing import Any

import gradio as gr
from gradio.events import api as gr_api

from assistant import Assistant
from assistant.prompts import question_language, reply
from index import IndexLoadError, IndexNotFoundError
from ui.cards import esc
from ui.library import ChunkCounts, Library, articles_html, failures_html, load_library, status_html
from ui.ratelimit import RateLimiter, client_of
from ui.rebuild import REFUSED, RebuildJob, progress_html
from ui.search_view import ANY, filtered_search, hits_html
from ui.settings_view import answer_modes, llm_status, settings_html


def _choices(values: list[str]) -> list[str]:
    return [ANY, *values]


def build_search(assistant: Assistant, limiter: RateLimiter) -> tuple[gr.Dropdown, gr.Dropdown]:
    """Query, k and filters → ranked, highlighted passages; returns the two filters."""
    with gr.Row():
        query = gr.Textbox(
            placeholder="Search the articles", show_label=False, scale=4, elem_id="lr-query"
        )
        k = gr.Slider(1, 30, value=8, step=1, label="results", scale=1)
    with gr.Row():
        # Custom values: a section prefix filters its subsections too, and API callers
        # (which never load the page's choices) may name any section or site.
        section = gr.Dropdown(
            _choices([]), value=ANY, label="reading-list section", scale=2, allow_custom_value=True
        )
        site = gr.Dropdown(_choices([]), value=ANY, label="site", scale=1, allow_custom_value=True)
    results = gr.HTML(elem_id="lr-results")

    def search(
        text: str,
        count: float,
        in_section: str | None,
        on_site: str | None,
        request: gr.Request,
    ) -> str:
        wait = limiter.wait(client_of(request))
        if wait:
            return f'<p class="lr-empty lr-refused">{esc(limiter.refusal(wait))}</p>'
        try:
            hits = filtered_search(
                assistant.search, text, int(count), in_section or ANY, on_site or ANY
            )
        except IndexLoadError as exc:
            return f'<p class="lr-empty">{esc(_load_problem(exc, text))}</p>'
        return hits_html(hits, text)

    inputs = [query, k, section, site]
    query.submit(search, inputs, results, api_name="search")
    gr.Button("Search").click(search, inputs, results, api_visibility="private")
    return section, site


def _load_problem(exc: IndexLoadError, text: str) -> str:
    if isinstance(exc, IndexNotFoundError):
        return reply("no_index", question_language(text))
    return str(exc)


def library_views(library: Library) -> tuple[str, str, str]:
    """The Library tab's three panels: status, articles, fetch failures."""
    return status_html(library.status), articles_html(library), failures_html(library)


def build_library(assistant: Assistant, counts: ChunkCounts) -> list[gr.HTML]:
    """Status, articles, ledger and the rebuild panel; returns the three panels."""
    job = RebuildJob(lambda progress: _rebuild_summary(assistant, progress))
    with gr.Row():
        status = gr.HTML(elem_id="lr-status")
        with gr.Column(scale=2):
            progress = gr.HTML(progress_html(job.snapshot(), time.monotonic()))
            start = gr.Button("Rebuild (fetch + index)", variant="primary", elem_id="lr-rebuild")
    timer = gr.Timer(1.0, active=False)
    refresh = gr.Button("Refresh", size="sm")
    gr.Markdown("### Articles")
    articles = gr.HTML(elem_id="lr-articles")
    gr.Markdown("### Fetch failures")
    failures = gr.HTML(elem_id="lr-failures")
    views = [status, articles, failures]

    def load() -> tuple[str, str, str]:
        return library_views(load_library(assistant, counts))

    def progress_text() -> str:
        """The rebuild's progress as HTML (what the panel shows)."""
        return progress_html(job.snapshot(), time.monotonic())

    def begin() -> tuple[str, gr.Timer]:
        if not job.start():
            gr.Warning(REFUSED)  # the running job's progress stays on screen
        return progress_text(), gr.Timer(active=True)

    def poll() -> tuple[Any, ...]:
        html = progress_text()
        if job.snapshot().running:
            return html, gr.Timer(active=True), gr.skip(), gr.skip(), gr.skip()
        return html, gr.Timer(active=False), *load()  # last tick: show the new library

    start.click(begin, None, [progress, timer], api_name="rebuild")
    timer.tick(poll, None, [progress, timer, *views], api_visibility="private")
    refresh.click(load, None, views, api_name="library")
    gr_api(progress_text, api_name="rebuild_progress")
    return views


def _rebuild_summary(assistant: Assistant, progress: Any) -> str:
    from ui.output import index_summary, ingest_summary  # tqdm: only when a rebuild runs

    report = assistant.rebuild(progress)
    indexed = "not indexed" if report.index is None else index_summary(report.index)
    return f"{ingest_summary(report.ingest)}; {indexed}"


def build_settings(assistant: Assistant, limiter: RateLimiter) -> tuple[gr.Dropdown, gr.Slider]:
    """Answer mode and top-k for this tab, and the LLM endpoint's status."""
    answer = assistant.config.answer
    with gr.Row():
        mode = gr.Dropdown(answer_modes(), value=answer.mode, label="answer mode")
        top_k = gr.Slider(1, 20, value=answer.top_k, step=1, label="passages per question (top-k)")
    endpoint = gr.HTML(settings_html(assistant.config, llm_status(assistant.config, probe=False)))
    check = gr.Button("Check the LLM endpoint", size="sm")

    def probe(request: gr.Request) -> str:
        # Each probe makes this server send a request to the endpoint: limited like a search,
        # so a client cannot turn the UI into a request amplifier.
        wait = limiter.wait(client_of(request))
        if wait:
            return f'<p class="lr-empty lr-refused">{esc(limiter.refusal(wait))}</p>'
        return settings_html(assistant.config, llm_status(assistant.config))

    check.click(probe, None, endpoint, api_name="llm_status")
    return mode, top_k


def filter_choices(library: Library) -> tuple[gr.Dropdown, gr.Dropdown]:
    """The Search filters' choices: the library's sections and sites."""
    section = gr.Dropdown(choices=_choices(library.sections))
    return section, gr.Dropdown(choices=_choices(library.sites))
