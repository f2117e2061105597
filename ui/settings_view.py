"""The Settings panel: answer mode, top-k, and whether an LLM endpoint is configured and up.

No Gradio import. The API key is never shown: only the name of the variable that holds
it, and whether it is set.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import httpx

from assistant import AnswerSettings, AppConfig, Assistant
from index import IndexLoadError
from ui.cards import esc, site_of

OFFLINE = "extractive (offline)"
OPENAI_URL = "https://api.openai.com/v1"  # where ChatOpenAI goes when base_url is unset
_PROBE_TIMEOUT = 2.0


def answer_modes() -> list[str]:
    """The answer modes this config accepts, read from the settings model itself."""
    annotation = AnswerSettings.model_fields["mode"].annotation
    return [str(mode) for mode in get_args(annotation)] or ["extractive"]


@dataclass(frozen=True)
class LLMStatus:
    label: str  # what the panel shows, e.g. "extractive (offline)" or "openai · model"
    reachable: bool | None  # None when there is nothing to reach
    detail: str = ""


def llm_status(config: AppConfig, probe: bool = True) -> LLMStatus:
    """Offline, a local model, or the endpoint's model and whether `GET /models` answers.

    The probe sends no key, and the key itself is never shown: only the name of the
    variable holding it and whether it is set.
    """
    answer = config.answer
    llm = answer.llm
    if answer.mode == "extractive":
        return LLMStatus(OFFLINE, None)
    if answer.mode == "transformers":
        return LLMStatus(f"transformers · {Path(llm.model_path or '').name}", None)
    base_url = llm.base_url or OPENAI_URL
    label = f"{answer.mode} · {llm.model} at {site_of(base_url)}"
    state = "set" if os.environ.get(llm.api_key_env) else "not set"
    detail = f"key from ${llm.api_key_env} ({state})" if llm.api_key_env else ""
    if not probe:
        return LLMStatus(label, None, detail)
    try:
        response = httpx.get(base_url.rstrip("/") + "/models", timeout=_PROBE_TIMEOUT)
        up = response.status_code < 500
    except httpx.HTTPError:
        up = False
    return LLMStatus(label, up, detail)


def settings_html(config: AppConfig, status: LLMStatus) -> str:
    state = {True: "reachable", False: "not reachable", None: ""}[status.reachable]
    badge = f' <span class="lr-{state.replace(" ", "-")}">{state}</span>' if state else ""
    detail = f'<p class="lr-meta">{esc(status.detail)}</p>' if status.detail else ""
    return (
        f"<p>Answerer: <b>{esc(status.label)}</b>{badge}</p>{detail}"
        f'<p class="lr-meta">Defaults from config: mode {esc(config.answer.mode)}, '
        f"top-k {config.answer.top_k}. Changes here apply to this browser tab only.</p>"
    )


class AnswerVariants:
    """Assistants for the (mode, top-k) a session picked, sharing the base's live index.

    The base is used as is for the configured defaults. A variant is rebuilt when the
    base swaps in a new index after a rebuild, so variants never answer from a stale one.
    """

    def __init__(self, base: Assistant) -> None:
        self.base = base
        self._lock = threading.Lock()
        self._variants: dict[tuple[str, int], tuple[object, Assistant]] = {}

    def get(self, mode: str | None, top_k: int | None) -> Assistant:
        answer = self.base.config.answer
        mode, top_k = mode or answer.mode, int(top_k or answer.top_k)
        if (mode, top_k) == (answer.mode, answer.top_k):
            return self.base
        try:
            index = self.base.index
        except IndexLoadError:
            return self.base  # it answers with the "run linkrag build" reply
        with self._lock:
            # After a swap, drop every variant of an older index, not just this one: an
            # unused (mode, top-k) would otherwise keep a whole old index in memory.
            self._variants = {key: v for key, v in self._variants.items() if v[0] is index}
            cached = self._variants.get((mode, top_k))
            if cached is None:
                settings = answer.model_copy(update={"mode": mode, "top_k": top_k})
                config = self.base.config.model_copy(update={"answer": settings})
                cached = (index, Assistant(config, index=index))
                self._variants[(mode, top_k)] = cached
            return cached[1]
