"""The web app in a real headless Chromium, as a person would use it.

Run with `python -m pytest -m browser`. Needs Playwright (python) and a Chromium binary
(/usr/bin/chromium, or CHROMIUM=/path); skips with the reason when either is missing.
Screenshots go to tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ui_corpus import Corpus, ui_corpus

from assistant import Assistant
from index import Embedder

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
QUESTION = "What does PagedAttention solve?"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed: pip install playwright"
    )
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set CHROMIUM)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def app_url(
    browser: Any, tmp_path_factory: pytest.TempPathFactory, use: Embedder
) -> Iterator[tuple[str, Corpus]]:
    from ui.web import build_app, launch

    with ui_corpus(tmp_path_factory.mktemp("browser")) as corpus:
        app = build_app(Assistant(corpus.config))
        launch(app, port=None, prevent_thread_lock=True, quiet=True)
        try:
            yield app.local_url, corpus
        finally:
            app.close()


def _ratings(data_dir: Path) -> list[tuple[str, int]]:
    path = data_dir / "feedback.sqlite"
    if not path.exists():
        return []
    try:
        with sqlite3.connect(path) as conn:
            rows = conn.execute("SELECT question, rating FROM feedback").fetchall()
    except sqlite3.OperationalError:
        return []  # the file exists a moment before its table
    return [(str(q), int(r)) for q, r in rows]


def _wait_for(check: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    return check()


def test_ask_read_sources_rate_and_see_the_ledger(
    browser: Any, app_url: tuple[str, Corpus]
) -> None:
    url, corpus = app_url
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(url)
    box = page.locator("#lr-ask textarea")
    box.wait_for(timeout=30_000)
    box.fill(QUESTION)
    pressed = time.perf_counter()
    box.press("Enter")
    page.locator("#lr-chat .lr-answer").first.wait_for(timeout=60_000)
    first_token = time.perf_counter() - pressed
    card = page.locator("#lr-chat .lr-card").first
    card.wait_for(timeout=60_000)
    answered = time.perf_counter() - pressed
    print(
        f"\ntime to first streamed token: {first_token * 1000:.0f} ms; "
        f"to the full answer with cards: {answered * 1000:.0f} ms"
    )

    assert "memory fragmentation" in page.locator("#lr-chat .lr-answer").last.inner_text()
    opener = card.locator("a.lr-open")
    href = opener.get_attribute("href") or ""
    assert href.startswith(corpus.url("paged-attention") + "#:~:text=")
    assert opener.get_attribute("target") == "_blank"
    assert "LLM reading list / Inference" in card.inner_text()
    assert "127.0.0.1" in card.inner_text()  # the site line
    article = browser.new_page()
    response = article.goto(href)  # the link works: the article, with the quote in it
    assert response is not None and response.ok
    assert "memory fragmentation of the KV cache" in article.content()
    article.close()
    ref = page.locator("#lr-chat a.lr-ref").first
    assert (ref.get_attribute("href") or "").startswith("#lr-1-")
    page.screenshot(path=str(ARTIFACTS / "chat-desktop.png"), full_page=True)

    page.locator("#lr-chat button[aria-label='Like']").last.click()
    stored = _wait_for(lambda: _ratings(corpus.data_dir))
    assert stored == [(QUESTION, 1)]

    page.get_by_role("tab", name="Library").click()
    failures = page.locator("#lr-failures")
    failures.get_by_text("http_404").wait_for(timeout=30_000)
    failures.locator("summary").first.click()
    assert corpus.gone_url in failures.inner_text()
    assert "Speculative decoding" in page.locator("#lr-articles").inner_text()
    page.screenshot(path=str(ARTIFACTS / "library-desktop.png"), full_page=True)
    page.close()


def test_phone_width_fits_without_sideways_scrolling(
    browser: Any, app_url: tuple[str, Corpus]
) -> None:
    url, _ = app_url
    page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page.goto(url)
    box = page.locator("#lr-ask textarea")
    box.wait_for(timeout=30_000)
    box.fill("ZeRO-3 是如何切分模型参数的？")
    box.press("Enter")
    page.locator("#lr-chat .lr-card").first.wait_for(timeout=60_000)
    width = page.evaluate("document.documentElement.scrollWidth")
    page.screenshot(path=str(ARTIFACTS / "chat-phone.png"), full_page=True)
    assert width <= 390 + 2, f"the page is {width}px wide at a 390px viewport"
    page.close()


# Elements and attributes no article text may ever create in the page.
_INJECTED = """() => {
  const app = document.querySelector('gradio-app') || document.body;
  const bad = [];
  for (const el of app.querySelectorAll('*')) {
    for (const attr of el.getAttributeNames()) {
      const value = (el.getAttribute(attr) || '').trim().toLowerCase();
      if (attr.startsWith('on')) bad.push(el.tagName + '[' + attr + ']');
      if (['href', 'src', 'data', 'action', 'formaction'].includes(attr)
          && value.startsWith('javascript:')) bad.push(el.tagName + '[' + attr + '=' + value + ']');
    }
  }
  // What linkrag renders (Gradio's own icons are SVGs around it).
  const scoped = '.lr-answer, .lr-hits, .lr-list, .lr-kind';
  const tags = 'script, img, svg, iframe, object, embed, math, style, link, meta, form';
  for (const root of document.querySelectorAll(scoped)) {
    for (const el of root.querySelectorAll(tags)) {
      bad.push('injected <' + el.tagName.toLowerCase() + '>');
    }
  }
  return bad;
}"""


@pytest.fixture(scope="module")
def hostile_url(
    browser: Any, tmp_path_factory: pytest.TempPathFactory, use: Embedder
) -> Iterator[str]:
    from xss_corpus import hostile_data_dir

    from ui.web import build_app, launch

    app = build_app(Assistant(hostile_data_dir(tmp_path_factory.mktemp("xss"))))
    launch(app, port=None, prevent_thread_lock=True, quiet=True)
    try:
        yield app.local_url
    finally:
        app.close()


def test_hostile_article_text_is_inert_in_chat_cards_search_and_library(
    browser: Any, hostile_url: str
) -> None:
    from xss_corpus import PAYLOADS, QUESTION, SEARCH

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    dialogs: list[str] = []
    fetched_x: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("request", lambda r: fetched_x.append(r.url) if r.url.endswith("/x") else None)
    page.goto(hostile_url)
    box = page.locator("#lr-ask textarea")
    box.wait_for(timeout=30_000)
    for n, question in enumerate((QUESTION, "How do I bake sourdough bread?")):  # + abstention
        box.fill(question)
        box.press("Enter")
        page.locator("#lr-chat .lr-answer:not(.lr-streaming)").nth(n).wait_for(timeout=60_000)
    shown = {"chat": page.locator("#lr-chat").inner_text()}

    page.get_by_role("tab", name="Search").click()
    query = page.locator("#lr-query textarea")
    query.fill(SEARCH)
    query.press("Enter")
    page.locator("#lr-results .lr-hit").first.wait_for(timeout=30_000)
    shown["search"] = page.locator("#lr-results").inner_text()

    page.get_by_role("tab", name="Library").click()
    page.locator("#lr-articles .lr-list").first.wait_for(timeout=30_000)
    for summary in page.locator("#lr-failures summary").all():
        summary.click()
    shown["library"] = page.locator("#lr-articles").inner_text()
    shown["failures"] = page.locator("#lr-failures").inner_text()
    page.wait_for_timeout(500)  # let any onerror/onload/ontoggle that was injected fire
    page.screenshot(path=str(ARTIFACTS / "xss-library.png"), full_page=True)

    assert page.evaluate("() => window.__xss") is None
    assert dialogs == [] and fetched_x == []
    assert page.evaluate(_INJECTED) == []
    # ... and the payloads were there all along, as text a reader can see.
    assert page.locator("#lr-chat .lr-card").count() >= 1
    for view in ("chat", "search", "library"):  # a blank line did not turn it into Markdown
        assert "[blank-line link](javascript:window.__xss=19)" in shown[view]
    assert PAYLOADS[0] in shown["chat"] and PAYLOADS[1] in shown["chat"]
    assert PAYLOADS[3] in shown["search"]
    assert "KV cache notes " + PAYLOADS[0] in shown["library"]
    assert PAYLOADS[2] in shown["failures"]
    page.close()
