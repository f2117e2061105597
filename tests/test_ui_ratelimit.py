"""The web UI's per-client rate limit: the token bucket, then the real app over loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gradio_client import Client
from test_assistant_corpus import build_corpus_index

from assistant import AppConfig, Assistant, UISettings
from assistant.config import ConfigError, RateLimitSettings, load_config
from index import Embedder
from ui.ratelimit import RateLimiter, client_of
from ui.web import build_app, launch, message_text


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_client_gets_its_burst_then_waits_for_the_refill() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimitSettings(requests=3, window=60.0), clock)
    assert [limiter.wait("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.wait("a") == pytest.approx(20.0)  # one token refills every 60/3 s
    assert limiter.wait("b") == 0.0  # another client has its own bucket
    clock.now += 10.0
    assert limiter.wait("a") == pytest.approx(10.0)  # half a token so far
    clock.now += 10.0
    assert limiter.wait("a") == 0.0 and limiter.wait("a") > 0.0
    clock.now += 3600.0  # a long pause refills to the burst, never beyond it
    assert [limiter.wait("a") for _ in range(4)].count(0.0) == 3


def test_refusal_names_the_limit_and_the_wait_and_zero_turns_it_off() -> None:
    limiter = RateLimiter(RateLimitSettings(requests=2, window=30.0), Clock())
    assert limiter.refusal(4.2) == (
        "Too many requests from your address (2 questions or searches per 30 s). Try again in 5 s."
    )
    off = RateLimiter(RateLimitSettings(requests=0))
    assert not off.enabled and all(off.wait("a") == 0.0 for _ in range(1000))


def test_buckets_stay_bounded_under_many_clients() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimitSettings(requests=1, window=1.0), clock)
    for i in range(25_000):
        clock.now += 0.001
        limiter.wait(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter._buckets) <= 10_001


def test_client_is_the_address_then_the_session() -> None:
    address = type("Address", (), {"host": "198.51.100.7"})()
    assert client_of(type("R", (), {"client": address, "session_hash": "s1"})()) == "198.51.100.7"
    assert client_of(type("R", (), {"client": None, "session_hash": "s1"})()) == "s1"
    assert client_of(None) == "unknown"


def test_rate_limit_settings_are_typed_and_checked() -> None:
    env = {"LINKRAG_UI__RATE_LIMIT__REQUESTS": "5", "LINKRAG_UI__RATE_LIMIT__WINDOW": "10"}
    assert load_config(None, env=env).ui.rate_limit == RateLimitSettings(requests=5, window=10)
    with pytest.raises(ConfigError, match=r"ui\.rate_limit\.window"):
        load_config(None, env={"LINKRAG_UI__RATE_LIMIT__WINDOW": "0"})


LIMIT = 3
OTHER = {"X-Forwarded-For": "198.51.100.7"}  # uvicorn trusts it from 127.0.0.1 (a proxy)


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory, use: Embedder) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("limited") / "data"
    build_corpus_index(data_dir, use)
    limit = RateLimitSettings(requests=LIMIT, window=3600.0)
    app = build_app(Assistant(AppConfig(data_dir=data_dir, ui=UISettings(rate_limit=limit))))
    launch(app, port=None, prevent_thread_lock=True, quiet=True)
    try:
        yield app.local_url
    finally:
        app.close()


def _search(client: Client) -> str:
    return str(client.predict("LoRA", 2, "(any)", "(any)", api_name="/search"))


def test_the_app_refuses_the_extra_call_in_chat_search_and_probe_but_not_another_client(
    url: str,
) -> None:
    first = Client(url, verbose=False)
    assert all("lr-hits" in _search(first) for _ in range(LIMIT - 1))
    _, chat = first.predict("What does PagedAttention solve?", [], api_name="/chat")
    assert "memory fragmentation" in message_text(chat[-1]["content"])  # call 3 of 3
    refused = _search(first)
    assert "Too many requests from your address" in refused and "lr-hits" not in refused
    box, chat = first.predict("What does FlashAttention avoid?", [], api_name="/chat")
    reply = message_text(chat[-1]["content"])
    assert box == "" and [m["role"] for m in chat] == ["user", "assistant"]
    assert "Too many requests from your address (3 questions or searches per 3600 s)" in reply
    assert "lr-card" not in reply  # a message in the chat, not an answer and not an error

    assert "Too many requests from your address" in str(first.predict(api_name="/llm_status"))

    other = Client(url, verbose=False, headers=OTHER)
    assert "Too many requests" not in str(other.predict(api_name="/llm_status"))
    assert "lr-hits" in _search(other)
    _, chat = other.predict("What does FlashAttention avoid?", [], api_name="/chat")
    assert "lr-card" in message_text(chat[-1]["content"])
