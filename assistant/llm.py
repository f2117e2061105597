"""LLM answerers: an OpenAI-compatible endpoint or a local model, checked and fail-safe.

This is the answer stage's only network I/O (the chat model client). Whatever the model
does, the user gets an Answer: its `[n]` markers go through the citation checker, and a
failing model (HTTP 500, timeout, refused connection, missing key) hands over to the
extractive answerer with a visible notice.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import SecretStr

from assistant.answerers import AnswerInput, ExtractiveAnswerer, has_evidence
from assistant.checking import Scorer, check_citations, embedding_scorer
from assistant.config import AnswerSettings, ConfigError, LLMSettings
from assistant.prompts import (
    FALLBACK_NOTICE,
    NO_ANSWER,
    Context,
    answer_prompt,
    build_context,
    prompt_values,
    question_language,
    reply,
)
from assistant.redact import add_secret, redact
from assistant.types import Answer
from index import Embedder, Glossary

logger = logging.getLogger(__name__)

AnswerEvent = str | Answer  # streamed text deltas, then one final Answer
ModelFactory = Callable[[], BaseChatModel]
_LOCAL_KEY = "not-needed"  # local servers (Ollama, vLLM, llama.cpp) ignore the key
_LOCAL_HOSTS = ("localhost", "host.docker.internal")


class LLMAnswerer(Runnable[AnswerInput, AnswerEvent]):
    """{"question", "hits"} → streamed text deltas, then the checked final `Answer`.

    `invoke` makes one plain request; `stream` streams. The model is built on first use,
    so a bad endpoint or key costs nothing until a question needs it.
    """

    def __init__(
        self,
        model_factory: ModelFactory,
        settings: AnswerSettings,
        fallback: Runnable[AnswerInput, Answer],
        scorer: Scorer | None = None,
    ) -> None:
        self.model_factory = model_factory
        self.settings = settings
        self.fallback = fallback
        self.scorer = scorer
        self._model: BaseChatModel | None = None
        self._lock = threading.Lock()

    def invoke(
        self, input: AnswerInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Answer:
        final: Answer | None = None
        for event in self._events(input, config, streaming=False):
            if isinstance(event, Answer):
                final = event
        assert final is not None  # _events always ends with an Answer
        return final

    def stream(
        self, input: AnswerInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[AnswerEvent]:
        yield from self._events(input, config, streaming=True)

    def model(self) -> BaseChatModel:
        """The chat model, built once (raises ConfigError on a missing API key)."""
        with self._lock:
            if self._model is None:
                self._model = self.model_factory()
            return self._model

    def _events(
        self, input: AnswerInput, config: RunnableConfig | None, *, streaming: bool
    ) -> Iterator[AnswerEvent]:
        question, hits = input["question"], list(input["hits"])
        language = question_language(question)
        if not has_evidence(question, hits, self.settings.min_similarity):
            # Weak evidence: the fixed reply, without calling the model at all.
            yield Answer(reply("no_answer", language), abstained=True, passages=hits)
            return
        context = build_context(hits, self.settings.llm.context_tokens)
        messages = answer_prompt().format_messages(**prompt_values(question, context))
        parts: list[str] = []
        try:
            for delta in self._generate(messages, config, streaming=streaming):
                parts.append(delta)
                yield delta
            if not "".join(parts).strip():
                raise ValueError("the model returned an empty reply")
        except Exception as exc:  # any model failure must still end in an answer
            logger.warning("LLM answer failed, falling back to extractive: %s", redact(str(exc)))
            yield self._fall_back(input, language, exc, config)
            return
        yield self._finish("".join(parts), context, language)

    def _generate(
        self, messages: list[BaseMessage], config: RunnableConfig | None, *, streaming: bool
    ) -> Iterator[str]:
        model = self.model()
        if not streaming:
            yield str(model.invoke(messages, config).text)
            return
        for chunk in model.stream(messages, config):
            if text := str(chunk.text):
                yield text

    def _finish(self, text: str, context: Context, language: str) -> Answer:
        """The model's text through the citation checker; the not-found line abstains."""
        if any(line in text for line in NO_ANSWER.values()):
            return Answer(reply("no_answer", language), abstained=True, passages=context.hits)
        checked = check_citations(text.strip(), [h.chunk for h in context.hits], scorer=self.scorer)
        if checked.dropped:
            logger.info("dropped citation markers naming no passage: %s", checked.dropped)
        return Answer(
            checked.text,
            citations=checked.citations,
            passages=context.hits,
            unsupported=checked.unsupported,
        )

    def _fall_back(
        self, input: AnswerInput, language: str, exc: Exception, config: RunnableConfig | None
    ) -> Answer:
        answer = self.fallback.invoke(input, config)
        template = FALLBACK_NOTICE.get(language, FALLBACK_NOTICE["en"])
        notice = template.format(reason=failure_reason(exc))
        return replace(answer, text=f"{notice}\n\n{answer.text}", notice=notice)


def failure_reason(exc: Exception) -> str:
    """A short, user-facing reason: 'HTTP 500', 'timed out', 'cannot connect', ..."""
    import openai  # imported on use: it takes seconds, and extractive mode never needs it

    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}"
    if isinstance(exc, openai.APITimeoutError):
        return "timed out"
    if isinstance(exc, openai.APIConnectionError):
        return "cannot connect"
    first_line = (redact(str(exc)).strip().splitlines() or [type(exc).__name__])[0]
    return first_line[:200]


def _is_local(base_url: str | None) -> bool:
    host = urlsplit(base_url or "").hostname or ""
    if host in _LOCAL_HOSTS or host.endswith(".local"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private


def openai_chat_model(settings: LLMSettings, env: Mapping[str, str] | None = None) -> BaseChatModel:
    """ChatOpenAI for any OpenAI-compatible endpoint; the key comes from `api_key_env`."""
    from langchain_openai import ChatOpenAI  # imported on use: it loads the openai client

    key = (os.environ if env is None else env).get(settings.api_key_env, "")
    add_secret(key)  # the client's errors may echo it
    if not key and not _is_local(settings.base_url):
        raise ConfigError(
            f"the API key variable {settings.api_key_env} is not set; export it, or set "
            "answer.llm.base_url to a local server"
        )
    return ChatOpenAI(
        model=settings.model,
        base_url=settings.base_url,
        api_key=SecretStr(key or _LOCAL_KEY),
        temperature=settings.temperature,
        max_tokens=settings.max_tokens,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
        # ChatOpenAI sends max_completion_tokens; many compatible servers (older vLLM,
        # llama.cpp, Ollama) read only max_tokens, so other endpoints get both.
        extra_body={"max_tokens": settings.max_tokens} if settings.base_url else None,
    )


def local_chat_model(settings: LLMSettings) -> BaseChatModel:
    """A transformers model from `model_path` (loaded on its first generation)."""
    from assistant.local_llm import LocalChatModel

    if settings.model_path is None:
        raise ConfigError("answer.llm.model_path is not set; point it at a local model folder")
    return LocalChatModel(
        model_path=settings.model_path,
        max_new_tokens=settings.max_tokens,
        temperature=settings.temperature,
        timeout=settings.timeout,
    )


def build_answerer(
    embedder: Embedder, settings: AnswerSettings, glossary: Glossary | None = None
) -> Runnable[AnswerInput, AnswerEvent]:
    """The configured answerer; LLM modes fall back to the extractive one."""
    extractive = ExtractiveAnswerer(embedder, settings, glossary)
    if settings.mode == "extractive":
        return extractive
    llm = settings.llm
    factory: ModelFactory
    if settings.mode == "openai":
        factory = lambda: openai_chat_model(llm)  # noqa: E731 (a named factory reads worse)
    else:
        factory = lambda: local_chat_model(llm)  # noqa: E731
    # The embedding scorer's calibration is USE's; other embedders check by words only.
    scorer = embedding_scorer(embedder) if embedder.id.startswith("use") else None
    return LLMAnswerer(factory, settings, extractive, scorer)
