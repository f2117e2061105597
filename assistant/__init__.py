"""assistant: hybrid retrieval → cited answers; `Assistant` is the Python API."""

import logging

from assistant.assistant import Assistant, RebuildReport
from assistant.config import AnswerSettings, AppConfig, ConfigError, UISettings, load_config
from assistant.feedback import Feedback, FeedbackStore
from assistant.types import Answer, Citation

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "Answer",
    "AnswerSettings",
    "AppConfig",
    "Assistant",
    "Citation",
    "ConfigError",
    "Feedback",
    "FeedbackStore",
    "RebuildReport",
    "UISettings",
    "load_config",
]
