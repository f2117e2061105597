"""A rebuild (ingest + index) in a background thread, with progress the UI can poll.

One job per app: a second start while one runs is refused, not queued, because two
ingests over one store would fight over it. The assistant keeps answering from the old
index during the run and swaps the new one in at the end. No Gradio import.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from assistant.redact import one_line
from ui.cards import esc

logger = logging.getLogger(__name__)

ProgressFn = Callable[[str, int, int], None]
RunFn = Callable[[ProgressFn], str]  # does the work, returns a one-line summary


@dataclass(frozen=True)
class Progress:
    """A snapshot of the job: the current stage and counts, and how it ended."""

    running: bool = False
    stage: str = ""
    done: int = 0
    total: int = 0
    started: float = 0.0  # monotonic clock of the job's start
    stage_started: float = 0.0
    finished: float = 0.0
    summary: str = ""  # the last run's outcome, set when it ends
    error: str = ""

    def eta(self, now: float) -> float | None:
        """Seconds left in the current stage at its rate so far; None before any progress."""
        if not self.running or self.done <= 0 or self.total <= self.done:
            return None
        rate = self.done / max(now - self.stage_started, 1e-6)
        return (self.total - self.done) / rate


class RebuildJob:
    """Runs `run(progress)` in a daemon thread, one at a time."""

    def __init__(self, run: RunFn, clock: Callable[[], float] = time.monotonic) -> None:
        self._run = run
        self._clock = clock
        self._lock = threading.Lock()
        self._state = Progress()
        self._thread: threading.Thread | None = None

    def start(self) -> bool:
        """Start a run; False (and nothing started) when one is already running."""
        with self._lock:
            if self._state.running:
                return False
            now = self._clock()
            self._state = Progress(running=True, stage="starting", started=now, stage_started=now)
            self._thread = threading.Thread(target=self._work, name="linkrag-rebuild", daemon=True)
            self._thread.start()
        return True

    def snapshot(self) -> Progress:
        with self._lock:
            return self._state

    def wait(self, timeout: float | None = None) -> Progress:
        """Block until the current run ends (tests and scripts); returns the final state."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.snapshot()

    def _progress(self, stage: str, done: int, total: int) -> None:
        with self._lock:
            state = self._state
            if stage != state.stage:
                state = replace(state, stage=stage, stage_started=self._clock())
            self._state = replace(state, done=done, total=total)

    def _work(self) -> None:
        summary, error = "", ""
        try:
            summary = self._run(self._progress)
        except Exception as exc:  # the thread's edge: the UI shows one line, the log the rest
            logger.exception("rebuild failed")
            error = one_line(exc)
        with self._lock:
            self._state = replace(
                self._state, running=False, finished=self._clock(), summary=summary, error=error
            )


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def progress_html(state: Progress, now: float) -> str:
    """What the Rebuild panel shows: the stage with done/total and ETA, or the last outcome."""
    if state.running:
        elapsed = _duration(now - state.started)
        count = f" {state.done}/{state.total}" if state.total else ""
        eta = state.eta(now)
        left = f" · about {_duration(eta)} left in this stage" if eta is not None else ""
        pct = int(100 * state.done / state.total) if state.total else 0
        return (
            f'<div class="lr-progress"><p><b>Rebuilding</b> · {esc(state.stage)}{count}{left}'
            f' · {elapsed} so far</p><progress max="100" value="{pct}"></progress>'
            '<p class="lr-meta">Answers keep coming from the current index until the new '
            "one is ready.</p></div>"
        )
    if state.error:
        return f'<p class="lr-error">Rebuild failed: {esc(state.error)}</p>'
    if state.summary:
        took = _duration(state.finished - state.started)
        return f'<p class="lr-ok">Rebuild finished in {took}: {esc(state.summary)}</p>'
    return '<p class="lr-meta">Fetch new and changed articles and update the index.</p>'


REFUSED = "A rebuild is already running; wait for it to finish."
