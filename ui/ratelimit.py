"""Per-client rate limiting for the web UI: one token bucket per client address.

Each client may make `requests` questions and searches per `window` seconds: its bucket
holds that many tokens and refills evenly over the window, so a burst is allowed and a
steady flood is not. Clients are keyed by address; uvicorn takes it from X-Forwarded-For
only when the connection comes from a local reverse proxy. No Gradio import.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

from assistant.config import RateLimitSettings

_MAX_CLIENTS = 10_000  # buckets kept; full ones are dropped first, so memory stays bounded


class RateLimiter:
    """Token buckets keyed by client; `wait(client)` takes a token or says how long to wait."""

    def __init__(
        self, settings: RateLimitSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # client → (tokens, at)

    @property
    def enabled(self) -> bool:
        return self.settings.requests > 0

    def _tokens(self, client: str, now: float) -> float:
        capacity = float(self.settings.requests)
        tokens, at = self._buckets.get(client, (capacity, now))
        return min(capacity, tokens + (now - at) * capacity / self.settings.window)

    def wait(self, client: str) -> float:
        """0.0 when the call may go ahead (a token is taken), else seconds until it may."""
        if not self.enabled:
            return 0.0
        with self._lock:
            now = self._clock()
            tokens = self._tokens(client, now)
            if tokens >= 1.0:
                self._buckets[client] = (tokens - 1.0, now)
                self._prune(now)
                return 0.0
            self._buckets[client] = (tokens, now)
            return (1.0 - tokens) * self.settings.window / self.settings.requests

    def _prune(self, now: float) -> None:
        if len(self._buckets) <= _MAX_CLIENTS:
            return
        full = [c for c in self._buckets if self._tokens(c, now) >= self.settings.requests]
        for client in full or list(self._buckets)[: len(self._buckets) // 2]:
            del self._buckets[client]

    def refusal(self, seconds: float) -> str:
        """The one-line message a refused client sees."""
        limit = f"{self.settings.requests} questions or searches per {self.settings.window:g} s"
        return (
            f"Too many requests from your address ({limit}). Try again in {math.ceil(seconds)} s."
        )


def client_of(request: Any) -> str:
    """The client's address from a gr.Request (its session when the address is unknown)."""
    host = getattr(getattr(request, "client", None), "host", None)
    return str(host or getattr(request, "session_hash", None) or "unknown")
