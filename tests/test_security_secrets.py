"""No secret (the LLM API key, the UI password) ever shows: logs, CLI output, errors, the UI.

The LLM endpoint is a loopback server that misbehaves the worst way: every error it
returns echoes the Authorization header it was sent, so the key is in the exception
message the client raises. Logs are captured at DEBUG from every logger (httpx and openai
included), stdout and stderr at the file-descriptor level.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import yaml
from conftest import LoopbackServer, Route
from gradio_client import Client
from test_assistant_corpus import build_corpus_index

from assistant import AnswerSettings, AppConfig, Assistant, LLMSettings
from assistant.llm import failure_reason
from assistant.redact import MASK, add_secret, one_line, redact
from index import Embedder
from ui.cli import main
from ui.settings_view import llm_status, settings_html
from ui.web import build_app, launch, message_text

KEY_ENV = "SEC_TEST_LLM_KEY"
KEY = "sk-LEAKCHECK-7f3a9c1e55d0"
USER, PASSWORD = "reader", "pw-LEAKCHECK-b41d0e9a"
SECRETS = (KEY, PASSWORD, KEY[3:19])  # and a good part of the key alone
QUESTION = "What does PagedAttention solve?"
Start = Callable[[dict[str, Route]], LoopbackServer]


def echoing_llm(request: BaseHTTPRequestHandler) -> None:
    """401 with the sent Authorization in the message; a streamed error event likewise."""
    length = int(request.headers.get("Content-Length") or 0)
    body = json.loads(request.rfile.read(length) or b"{}")
    echo = f"Incorrect API key provided: {request.headers.get('Authorization')}"
    error = {"error": {"message": echo, "type": "invalid_request_error", "code": "bad_key"}}
    if body.get("stream"):  # openai raises APIError(message) on an SSE error event
        data, status, ctype = f"data: {json.dumps(error)}\n\n".encode(), 200, "text/event-stream"
    else:
        data, status, ctype = json.dumps(error).encode(), 401, "application/json"
    request.send_response(status)
    request.send_header("Content-Type", ctype)
    request.send_header("Content-Length", str(len(data)))
    request.end_headers()
    request.wfile.write(data)


@pytest.fixture
def setup(
    tmp_path: Path,
    use: Embedder,
    loopback_server: Start,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> Iterator[tuple[Path, AppConfig]]:
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.setenv("LINKRAG_UI_USER", USER)
    monkeypatch.setenv("LINKRAG_UI_PASSWORD", PASSWORD)
    monkeypatch.delenv("LINKRAG_DATA")
    server = loopback_server({"/v1/chat/completions": Route(handler=echoing_llm)})
    llm = {"base_url": server.url("/v1"), "api_key_env": KEY_ENV, "max_retries": 0}
    raw = {"data_dir": str(tmp_path / "data"), "answer": {"mode": "openai", "llm": llm}}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    build_corpus_index(tmp_path / "data", use)
    caplog.set_level(logging.DEBUG)  # every logger, every level
    answer = AnswerSettings(mode="openai", llm=LLMSettings(**llm))
    yield path, AppConfig(data_dir=tmp_path / "data", answer=answer)


def assert_clean(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def test_cli_ask_status_and_errors_never_show_the_key(
    setup: tuple[Path, AppConfig],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, _ = setup
    assert main(["--config", str(path), "-v", "ask", "--json", QUESTION]) == 0
    out, err = capfd.readouterr()
    answer = json.loads(out)
    assert "HTTP 401" in answer["answer"] and answer["citations"]  # the extractive fallback
    assert "Incorrect API key provided: Bearer [redacted]" in caplog.text  # it was echoed
    for argv in (["status"], ["status", "--json"], ["ask", QUESTION]):
        assert main(["--config", str(path), "-v", *argv]) == 0
    out2, err2 = capfd.readouterr()
    assert '"articles"' in out2 and "Sources" in out2
    # The classic mistake: the key pasted where its variable's NAME belongs.
    monkeypatch.setenv("LINKRAG_ANSWER__LLM__API_KEY_ENV", KEY)
    assert main(["--config", str(path), "--debug", "status"]) == 2
    out3, err3 = capfd.readouterr()
    assert "answer.llm.api_key_env: must be the NAME of an environment variable" in err3
    assert "Traceback" in err3  # --debug printed it, masked
    assert_clean(out, err, out2, err2, out3, err3, caplog.text)


def test_an_error_that_reaches_the_cli_edge_is_masked(
    setup: tuple[Path, AppConfig],
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ui import commands

    def leaky(*_: object) -> int:
        raise RuntimeError(f"upstream said: bad credentials {KEY} for {PASSWORD}")

    monkeypatch.setitem(commands.COMMANDS, "status", leaky)
    path, _ = setup
    assert main(["--config", str(path), "--debug", "status"]) == 1
    _, err = capfd.readouterr()
    assert "linkrag: error: upstream said: bad credentials [redacted] for [redacted]" in err
    assert_clean(err)


def test_streamed_answer_notice_and_logs_are_masked(
    setup: tuple[Path, AppConfig], caplog: pytest.LogCaptureFixture
) -> None:
    _, config = setup
    events = list(Assistant(config).stream(QUESTION))
    final = events[-1]
    assert not isinstance(final, str) and "Bearer [redacted]" in final.notice
    assert_clean(final.text, final.notice, caplog.text)


def test_settings_panel_and_the_served_app_never_show_a_secret(
    setup: tuple[Path, AppConfig],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    _, config = setup
    panel = settings_html(config, llm_status(config, probe=False))
    assert f"${KEY_ENV} (set)" in panel
    app = build_app(Assistant(config))
    launch(app, port=None, prevent_thread_lock=True, quiet=True)
    try:
        seen = _use_the_app(app.local_url)
    finally:
        app.close()
    out, err = capfd.readouterr()
    assert_clean(panel, *seen, caplog.text, out, err)


def _use_the_app(url: str) -> list[str]:
    with pytest.raises(ValueError):  # the password is required ...
        Client(url, verbose=False)
    client = Client(url, verbose=False, auth=(USER, PASSWORD))  # ... and works
    _, chat = client.predict(QUESTION, [], api_name="/chat")
    answer = message_text(chat[-1]["content"])
    assert "Bearer [redacted]" in answer and "lr-card" in answer  # the fallback, masked
    status = str(client.predict(api_name="/llm_status"))
    assert "openai" in status and "reachable" in status
    library = json.dumps(client.predict(api_name="/library"))
    return [answer, status, library]


def test_redact_masks_longest_first_and_ignores_tiny_values() -> None:
    add_secret("abcdEFGH")
    add_secret("abcdEFGH-longer")
    add_secret("ab")  # too short to mask safely
    assert redact("x abcdEFGH-longer y abcdEFGH ab") == f"x {MASK} y {MASK} ab"
    assert one_line(RuntimeError("bad\n  key abcdEFGH")) == f"bad key {MASK}"
    assert failure_reason(ValueError("key abcdEFGH rejected")) == f"key {MASK} rejected"
