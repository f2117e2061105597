"""assistant: hybrid retrieval → cited answers; `Assistant` is the Python API."""

import logging

from assistant.assistant import Assistant, RebuildReport
from assistant.checking import CheckResult, check_citations
from assistant.config import (
    AnswerSettings,
    AppConfig,
    ConfigError,
    LLMSettings,
    UISettings,
    load_config,
)
from assistant.feedback import Feedback, FeedbackStore
from assistant.llm import AnswerEvent, LLMAnswerer, build_answerer
from assistant.types import Answer, Citation

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "Answer",
    "AnswerEvent",
    "AnswerSettings",
    "AppConfig",
    "Assistant",
    "CheckResult",
    "Citation",
    "ConfigError",
    "Feedback",
    "FeedbackStore",
    "LLMAnswerer",
    "LLMSettings",
    "RebuildReport",
    "UISettings",
    "build_answerer",
    "check_citations",
    "load_config",
]
