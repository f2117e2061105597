"""Secrets (the LLM API key, the UI password) are masked in every log line and message.

The values are registered when an `Assistant` is built and when the chat model reads its
key; from then on `redact` masks them in text, and a log record factory masks them in
every log record of the process, third-party libraries included (an HTTP client's error
may echo an Authorization header). The registry is process-wide on purpose: logging is.
"""

from __future__ import annotations

import logging
import os
import threading
import traceback
from collections.abc import Mapping
from typing import Any

UI_PASSWORD_ENV = "LINKRAG_UI_PASSWORD"
MASK = "[redacted]"
_MIN_CHARS = 4  # shorter values would mask ordinary words ("a", "on") everywhere

_lock = threading.Lock()
_secrets: set[str] = set()
_installed: list[bool] = []


def add_secret(value: str | None) -> None:
    """Mask `value` from now on (values under 4 characters are ignored)."""
    if value and len(value.strip()) >= _MIN_CHARS:
        with _lock:
            _secrets.add(value.strip())
    install_log_redaction()


def register_secrets(api_key_env: str, env: Mapping[str, str] | None = None) -> None:
    """Mask the API key held in `api_key_env` and the UI password, if they are set."""
    env = os.environ if env is None else env
    for name in (api_key_env, UI_PASSWORD_ENV):
        add_secret(env.get(name))


def redact(text: str) -> str:
    """`text` with every registered secret replaced by [redacted]."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)  # a longer secret may contain a shorter
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def one_line(exc: BaseException) -> str:
    """An exception as one masked line for the user (its class name if it has no message)."""
    return " ".join(redact(str(exc)).split()) or type(exc).__name__


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a malformed record is logging's to report, not ours
        return
    clean = redact(message)
    if clean != message:  # only then: some formatters (uvicorn's) read record.args
        record.msg, record.args = clean, None
    if record.exc_info and record.exc_info[0] is not None:
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if redact(text) != text:
            record.exc_text = redact(text)  # formatters use a set exc_text as is


def install_log_redaction() -> None:
    """Wrap the log record factory once, so every record is masked when it is created."""
    with _lock:
        if _installed:
            return
        _installed.append(True)
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if _secrets:
            _redact_record(record)
        return record

    logging.setLogRecordFactory(factory)
