"""A long-lived Assistant follows index versions that ANOTHER process publishes.

The publisher is a real `linkrag build` subprocess (what cron runs); the serving
Assistant never restarts. Queries from threads during that publish see whole versions.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from test_assistant_corpus import ARTICLES, ListStore, build_corpus_index
from test_load import (
    QUESTIONS,
    Pairs,
    _live_pairs,
    _passages,
    _run_threads,
    _write_docs,
    assert_whole_versions,
)

from assistant import AppConfig, Assistant
from index import Embedder, IndexSettings, build_index, current_version
from index.store import CURRENT_FILE, index_root
from ui.settings_view import AnswerVariants

REPO = Path(__file__).resolve().parent.parent
BREAD = "sourdough loaf oven steam"  # found only in the fifth article, which B adds
CHECK = 0.5  # index.reload_check of the serving assistants, seconds


def _config(data_dir: Path, docs: Path | None = None, check: float = CHECK) -> AppConfig:
    sources = [f"dir:{docs}"] if docs else []
    return AppConfig(data_dir=data_dir, sources=sources, index=IndexSettings(reload_check=check))


def _publish_in_subprocess(data_dir: Path, docs: Path, cwd: Path) -> subprocess.Popen[bytes]:
    """`linkrag build` in a fresh interpreter, as cron or another terminal runs it."""
    return subprocess.Popen(
        [sys.executable, "-m", "ui.cli", "build", "--source", f"dir:{docs}"],
        env={**os.environ, "PYTHONPATH": str(REPO), "LINKRAG_DATA": str(data_dir)},
        cwd=cwd,  # no config.yaml there: defaults, as the serving assistant uses
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_an_external_publish_is_swapped_in_whole_while_threads_query(
    tmp_path: Path, use: Embedder
) -> None:
    docs = tmp_path / "docs"
    _write_docs(docs, 4, "")
    assistant = Assistant(_config(tmp_path / "data", docs))
    assistant.rebuild()  # version A: four articles
    version_a, old = current_version(assistant.data_dir), _live_pairs(assistant.data_dir)
    assert not assistant.search(BREAD, k=1)[0].chunk.title.startswith("Baking")
    _write_docs(docs, 5, "\nRevision two of this note adds a closing remark.\n")  # + bread
    seen: dict[int, list[tuple[bool, Pairs]]] = {n: [] for n in range(3)}
    errors: list[BaseException] = []
    publisher = _publish_in_subprocess(assistant.data_dir, docs, tmp_path)
    published = threading.Event()

    def query(n: int) -> None:
        deadline = time.monotonic() + 150
        after = 0  # keep querying a little past the publish and the check interval
        while after < 4 and time.monotonic() < deadline:
            during = publisher.poll() is None
            question = QUESTIONS[(n + len(seen[n])) % len(QUESTIONS)]
            try:
                result = assistant.ask(question) if n == 2 else assistant.search(question, k=4)
            except Exception as exc:  # collected: the assertion below names it
                errors.append(exc)
                return
            seen[n].append((during, _passages(result)))
            after += published.is_set()
            time.sleep(CHECK / 4)  # leave the cores to the publisher: it is the slow part

    def wait_for_publisher() -> None:
        publisher.wait(timeout=150)
        published.set()

    waiter = threading.Thread(target=wait_for_publisher)
    waiter.start()
    _run_threads(3, query)
    waiter.join()
    _, err = publisher.communicate()
    assert publisher.returncode == 0, err.decode(errors="replace")
    assert current_version(assistant.data_dir) != version_a
    new = _live_pairs(assistant.data_dir)
    assert errors == []
    assert old - new and new - old  # every article changed, so a torn read would show
    assert sum(during for results in seen.values() for during, _ in results) > 0
    assert_whole_versions(seen, old, new)
    # Same process, no restart: the article only version B has is found.
    assert assistant.search(BREAD, k=1)[0].chunk.title.startswith("Baking")


def _publish_fewer(data_dir: Path, use: Embedder) -> str | None:
    """A new version in this process (without the last article): what another process
    publishing looks like to an assistant that did not build it."""
    build_index(ListStore(ARTICLES[:-1]), data_dir, IndexSettings(), embedder=use)
    return current_version(data_dir)


def _point_current_at(data_dir: Path, version: str) -> None:
    (index_root(data_dir) / CURRENT_FILE).write_text(version + "\n", "utf-8")


def test_a_broken_publish_keeps_the_old_index_with_one_warning(
    tmp_path: Path, use: Embedder, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "data"
    build_corpus_index(data_dir, use)
    good = current_version(data_dir)
    assert good is not None
    assistant = Assistant(_config(data_dir, check=0.01))
    variants = AnswerVariants(assistant)
    variant = variants.get("extractive", 3)
    expected = [hit.chunk.chunk_id for hit in assistant.search(QUESTIONS[0], k=3)]
    _point_current_at(data_dir, "20991231T000000Z-missing")  # a folder that does not exist
    with caplog.at_level(logging.WARNING, logger="assistant.reload"):
        for question in QUESTIONS[:1] * 5:
            time.sleep(0.02)  # past the check interval every time
            assert [h.chunk.chunk_id for h in assistant.search(question, k=3)] == expected
            assert not assistant.ask("What does PagedAttention solve?").abstained
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "20991231T000000Z-missing" in warnings[0] and good in warnings[0]
    assert getattr(assistant.index, "version", None) == good
    assert variants.get("extractive", 3) is variant  # nothing swapped: variants stay

    # A good version published after the broken one is still picked up, and the UI's
    # answer variants built on the old index are dropped.
    _point_current_at(data_dir, good)
    fresh = _publish_fewer(data_dir, use)
    assert fresh not in (None, good)
    time.sleep(0.02)
    assert getattr(assistant.index, "version", None) == fresh
    assert variants.get("extractive", 3) is not variant


def test_reload_check_zero_turns_following_off(tmp_path: Path, use: Embedder) -> None:
    data_dir = tmp_path / "data"
    build_corpus_index(data_dir, use)
    held = Assistant(_config(data_dir, check=0))
    first = getattr(held.index, "version", None)
    assert _publish_fewer(data_dir, use) != first
    time.sleep(0.05)
    held.search(QUESTIONS[0], k=1)
    assert getattr(held.index, "version", None) == first
