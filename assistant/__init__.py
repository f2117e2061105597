"""assistant: hybrid retrieval → cited answers; `Assistant` is the Python API."""

import logging

from assistant.assistant import Assistant, RebuildReport
from assistant.config import AnswerSettings, AppConfig, ConfigError, UISettings, load_config
from assistant.types import Answer, Citation

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "Answer",
    "AnswerSettings",
    "AppConfig",
    "Assistant",
    "Citation",
    "ConfigError",
    "RebuildReport",
    "UISettings",
    "load_config",
]
