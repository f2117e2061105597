"""Follow index versions that another process publishes (`linkrag index` from cron).

A long-lived `Assistant` (the web app, an API user) would otherwise keep answering from
the version it loaded first until restarted. The check rides on the query path and costs
one read of the small CURRENT file at most once per `index.reload_check` seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from index import current_version

logger = logging.getLogger(__name__)

Loaded = TypeVar("Loaded")


class VersionWatch:
    """Says when CURRENT names a version other than the loaded one, and loads it once."""

    def __init__(self, data_dir: Path, interval: float) -> None:
        self._data_dir = data_dir
        self._interval = interval
        self._next = 0.0  # monotonic time of the next look at CURRENT
        self._failed: set[str] = set()  # versions that did not load: warned once, not retried
        self._loading = threading.Lock()

    def _new_version(self, loaded: str | None) -> str | None:
        if self._interval <= 0:
            return None
        now = time.monotonic()
        if now < self._next:
            return None
        self._next = now + self._interval  # a benign race: two threads may both look
        version = current_version(self._data_dir)
        if version is None or version == loaded or version in self._failed:
            return None
        return version

    def poll(self, loaded: str | None, load: Callable[[], Loaded]) -> Loaded | None:
        """The newly published version loaded by `load`, or None: not due, unchanged, known
        broken, or another caller is loading it (callers keep the index they hold)."""
        version = self._new_version(loaded)
        if version is None or not self._loading.acquire(blocking=False):
            return None
        try:
            return load()
        except Exception as exc:  # a broken publish must never break the queries being served
            self._failed.add(version)
            logger.warning(
                "index version %s did not load, still serving %s: %s",
                version,
                loaded,
                str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
            )
            return None
        finally:
            self._loading.release()
