"""Every HTML renderer of the web app, fed the hostile payloads, parsed by a real parser.

The browser test (tests/test_ui_browser.py, `-m browser`) proves nothing runs in
Chromium; this one is fast and checks the markup itself: only the tags and attributes
linkrag writes, links only to http(s) or in-page anchors, and each payload still shown
as text.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from xss_corpus import BREAKOUT, EVIL_URL, JS_URL, PAYLOADS

from assistant import AnswerSettings, AppConfig, Citation, LLMSettings
from assistant.types import Answer
from index import Chunk, Hit
from ui.cards import answer_html, streaming_html
from ui.library import Entry, Library, articles_html, failures_html, status_html
from ui.rebuild import Progress, progress_html
from ui.search_view import hits_html
from ui.settings_view import llm_status, settings_html

TAGS = {
    "a", "b", "blockquote", "br", "code", "dd", "details", "div", "dl", "dt", "h4", "li",
    "mark", "p", "pre", "progress", "small", "span", "summary", "sup", "table", "tbody", "td", "th",
    "thead", "tr", "ul",
}  # fmt: skip
ATTRIBUTES = {"class", "id", "href", "target", "rel", "title", "open", "value", "max"}
EVIL = " ".join(PAYLOADS)


class Markup(HTMLParser):
    """The tags, attributes and text of a fragment, as a browser's parser sees them."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def assert_inert(html: str, *shown: str) -> None:
    markup = Markup(html)
    for tag, attrs in markup.tags:
        assert tag in TAGS, f"<{tag}> in {html[:200]}"
        assert set(attrs) <= ATTRIBUTES, f"<{tag} {attrs}>"
        href = attrs.get("href", "https://")
        assert href.startswith(("https://", "http://", "#")), href
    text = " ".join("".join(markup.text).split())
    for expected in shown:
        assert " ".join(expected.split()) in text  # shown, as text


def _chunk(cid: str, url: str, text: str = EVIL) -> Chunk:
    return Chunk(cid, 1, url, PAYLOADS[0] + BREAKOUT, PAYLOADS[2], text, 0, len(text), EVIL)


def _answer(abstained: bool = False) -> Answer:
    hits = [Hit(_chunk("c1", EVIL_URL), 0.5, 1), Hit(_chunk("c2", JS_URL), 0.4, 2)]
    return Answer(
        text=f"{PAYLOADS[1]} [1]{BREAKOUT}{PAYLOADS[4]} [2] [9]",
        citations=[
            Citation(1, EVIL_URL, PAYLOADS[0] + BREAKOUT, PAYLOADS[3], "c1"),
            Citation(2, JS_URL, PAYLOADS[5], PAYLOADS[6] + PAYLOADS[8], "c2", fragment_url=JS_URL),
        ],
        abstained=abstained,
        passages=hits,
        unsupported=[PAYLOADS[1]],
        notice=PAYLOADS[7] + BREAKOUT,
        rewritten_query=PAYLOADS[9],
    )


@pytest.mark.parametrize("payload", PAYLOADS)
def test_each_payload_streams_as_text(payload: str) -> None:
    html = streaming_html(f"partial {payload}{BREAKOUT}{payload}")
    assert_inert(html, payload)
    assert "\n" not in html  # one HTML block: Markdown never takes over after a blank line


def test_answers_cards_and_nearest_articles_are_inert() -> None:
    for abstained in (False, True):
        html = answer_html(_answer(abstained))
        assert_inert(html, PAYLOADS[1], PAYLOADS[4], PAYLOADS[7], PAYLOADS[9])
        assert "\n" not in html
    cards = answer_html(_answer())
    assert_inert(cards, PAYLOADS[0], PAYLOADS[3], PAYLOADS[5], PAYLOADS[6], PAYLOADS[2])
    assert 'href="#lr-src-1"' in cards  # the [1] marker, linked to its card


def test_search_results_are_inert_and_highlight_only_text() -> None:
    hits = [Hit(_chunk("c1", EVIL_URL), 0.5, 1, 0.5, 3.0), Hit(_chunk("c2", JS_URL), 0.4, 2)]
    for query in ("script onerror img", "<script>", "&lt; amp quot", 'x" onmouseover="y'):
        html = hits_html(hits, query)
        assert_inert(html, PAYLOADS[0], PAYLOADS[2])


def test_library_ledger_status_progress_and_settings_are_inert() -> None:
    entries = [
        Entry(PAYLOADS[0], EVIL_URL, PAYLOADS[1], PAYLOADS[2], 3),
        Entry("x", JS_URL, "", "", 1),
    ]
    library = Library(
        lists={PAYLOADS[3]: {PAYLOADS[4] + BREAKOUT: entries}},
        failures=[(JS_URL, PAYLOADS[5], PAYLOADS[6]), (EVIL_URL, "http_404", PAYLOADS[7])],
        ledger={
            "outcomes": {PAYLOADS[8]: 1},
            "failure_kinds": {PAYLOADS[9]: {"example": JS_URL, "reason": PAYLOADS[10]}},
        },
        status={"index_version": PAYLOADS[11], "embedder": PAYLOADS[12]},
    )
    assert_inert(articles_html(library), PAYLOADS[0], PAYLOADS[3], PAYLOADS[4])
    assert_inert(failures_html(library), JS_URL, PAYLOADS[5], PAYLOADS[6], PAYLOADS[10])
    assert_inert(status_html(library.status), PAYLOADS[11], PAYLOADS[12])
    running = Progress(running=True, stage=PAYLOADS[13], done=1, total=3, started=1.0)
    assert_inert(progress_html(running, 5.0), PAYLOADS[13])
    failed = Progress(summary=PAYLOADS[14], error=PAYLOADS[15], finished=2.0)
    assert_inert(progress_html(failed, 5.0), PAYLOADS[15])
    llm = LLMSettings(base_url=EVIL_URL, model=PAYLOADS[1], api_key_env="K")
    config = AppConfig(answer=AnswerSettings(mode="openai", llm=llm))
    assert_inert(settings_html(config, llm_status(config, probe=False)), PAYLOADS[1])
