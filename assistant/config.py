"""AppConfig: every package's settings composed, validated and loaded once at the edge."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from assistant.redact import add_secret
from index import IndexSettings, RaySettings
from ingest import FetchSettings, IngestSettings, parse_source_spec

ENV_PREFIX = "LINKRAG_"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
DEFAULT_SOURCES = [
    "list:https://github.com/liguodongiot/llm-action/blob/main/README.md",
    "list:https://github.com/BBuf/how-to-optim-algorithm-in-cuda/blob/master/"
    "large-language-model-note/README.md",
]


class ConfigError(ValueError):
    """A configuration problem, worded as one line naming the field and the fix."""

    cause = (
        "`config.yaml` or a `LINKRAG_*` override is invalid (bad YAML, an unknown key, a "
        "value out of range), or a remote LLM has no API key."
    )
    fix = (
        "Fix the key the message names (see Configuration); for the API key, export the "
        "variable named by `answer.llm.api_key_env`."
    )


class LLMSettings(BaseModel):
    """The chat model of the 'openai' and 'transformers' answer modes."""

    model_config = ConfigDict(extra="forbid")

    base_url: str | None = Field(
        None,
        description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1 (Ollama); "
        "unset means api.openai.com.",
    )
    model: str = Field("gpt-4o-mini", description="Chat model name at the endpoint.")
    api_key_env: str = Field(
        "OPENAI_API_KEY",
        description="Name of the environment variable holding the API key; a local "
        "(loopback or private address) endpoint may leave it unset.",
    )
    model_path: Path | None = Field(
        None,
        description="Folder of a local transformers chat model, or a .gguf file "
        "('transformers' mode).",
    )
    temperature: float = Field(0.1, ge=0.0, le=2.0, description="Sampling temperature.")
    max_tokens: int = Field(512, ge=1, le=32768, description="Longest answer, in tokens.")
    timeout: float = Field(
        60.0,
        gt=0.0,
        description="Seconds before a request gives up (the extractive answer is shown instead).",
    )
    max_retries: int = Field(1, ge=0, le=10, description="Retries of a failed request.")
    context_tokens: int = Field(
        3000,
        ge=100,
        le=1_000_000,
        description="Budget of the passages in the prompt, in approximate tokens (CJK "
        "characters 1 each, English words 1.3).",
    )

    @field_validator("api_key_env")
    @classmethod
    def _check_key_env(cls, value: str) -> str:
        if value and not _ENV_NAME.fullmatch(value):
            add_secret(value)  # most likely the key itself, pasted in: never echo it
            raise ValueError(
                "must be the NAME of an environment variable holding the key (like "
                "OPENAI_API_KEY), not the key itself"
            )
        return value


class AbstentionSettings(BaseModel):
    """When to abstain from retrieval signals, before any answer is generated."""

    model_config = ConfigDict(extra="forbid")

    weak_similarity: float = Field(
        0.38,
        ge=-1.0,
        le=1.0,
        description="Below this best cosine, abstain unless dense and BM25 agree on the "
        "top article.",
    )
    agreement_depth: int = Field(
        2,
        ge=1,
        le=10,
        description="Dense and BM25 agree when both rank the top article among this many.",
    )
    named_terms: bool = Field(
        True,
        description="Abstain when a name in the question (KServe, GraphRAG, HCCL_…) is in "
        "no retrieved passage.",
    )
    named_terms_scope: Literal["articles", "passages", "corpus"] = Field(
        "articles",
        description="Where a missing name is looked for: 'articles' abstains when no "
        "retrieved article names it anywhere in its text; 'passages' when no retrieved "
        "passage does; 'corpus' only when no article at all does.",
    )
    named_terms_depth: int = Field(
        4,
        ge=1,
        le=50,
        description="A name counts as present only when one of the best this-many passages "
        "(or, by scope, their articles) has it; a passing mention further down is no answer.",
    )


class AnswerSettings(BaseModel):
    """How questions are answered."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["extractive", "openai", "transformers"] = Field(
        "extractive",
        description="Answerer: 'extractive' (offline, no LLM), 'openai' (any "
        "OpenAI-compatible endpoint) or 'transformers' (a local model folder).",
    )
    top_k: int = Field(6, ge=1, le=50, description="Passages retrieved for each question.")
    max_question_chars: int = Field(
        2000,
        ge=20,
        le=100_000,
        description="Longer questions and queries are refused with a message (a cap on the "
        "work one request can cause).",
    )
    max_sentences: int = Field(4, ge=1, le=20, description="Sentences in an extractive answer.")
    min_similarity: float = Field(
        0.3,
        ge=-1.0,
        le=1.0,
        description="Abstain when no passage reaches this cosine similarity to the question.",
    )
    abstention: AbstentionSettings = Field(
        default_factory=AbstentionSettings, description="When to abstain before answering."
    )
    llm: LLMSettings = Field(
        default_factory=LLMSettings, description="The chat model of the LLM answer modes."
    )

    @model_validator(mode="after")
    def _check_model_path(self) -> AnswerSettings:
        if self.mode == "transformers" and self.llm.model_path is None:
            raise ValueError(
                "mode 'transformers' needs answer.llm.model_path set to a local model folder"
            )
        return self


class RateLimitSettings(BaseModel):
    """Per-client limit on the web UI's questions and searches (a token bucket)."""

    model_config = ConfigDict(extra="forbid")

    requests: int = Field(
        30,
        ge=0,
        le=100_000,
        description="Questions and searches one client may make per window; 0 turns the limit off.",
    )
    window: float = Field(
        60.0,
        gt=0.0,
        le=86_400.0,
        description="The window in seconds; a client's allowance refills evenly over it.",
    )


class UISettings(BaseModel):
    """How the web UI is served."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", description="Address the UI binds to; loopback by default.")
    port: int = Field(7860, ge=1, le=65535, description="Port the UI listens on.")
    concurrency: int = Field(2, ge=1, le=64, description="Requests the UI serves at once.")
    rate_limit: RateLimitSettings = Field(
        default_factory=RateLimitSettings, description="Per-client rate limit."
    )


class AppConfig(BaseModel):
    """The whole configuration, as read from config.yaml plus LINKRAG_* overrides."""

    model_config = ConfigDict(extra="forbid")

    data_dir: Path = Field(Path("data"), description="Folder holding the store and the index.")
    sources: list[str] = Field(
        default_factory=lambda: list(DEFAULT_SOURCES),
        description="Sources as 'kind:location' (list:, urls:, warc:, dir:); a bare URL is a list.",
    )
    fetch: FetchSettings = Field(default_factory=FetchSettings, description="Fetching.")
    extract: IngestSettings = Field(default_factory=IngestSettings, description="Extraction.")
    index: IndexSettings = Field(default_factory=IndexSettings, description="Indexing and search.")
    executor: Literal["local", "ray"] = Field(
        "local",
        description="Where builds fetch, extract and embed: 'local' (this process) or "
        "'ray' (a Ray cluster; needs the linkrag[ray] extra).",
    )
    ray: RaySettings = Field(default_factory=RaySettings, description="The Ray cluster.")
    answer: AnswerSettings = Field(default_factory=AnswerSettings, description="Answering.")
    ui: UISettings = Field(default_factory=UISettings, description="Web UI.")

    @field_validator("sources")
    @classmethod
    def _check_sources(cls, value: list[str]) -> list[str]:
        for spec in value:
            parse_source_spec(spec)  # raises ValueError with a one-line reason
        return value


def _env_overrides(env: dict[str, str]) -> dict[str, Any]:
    """LINKRAG_DATA → data_dir, LINKRAG_EXECUTOR → executor; LINKRAG_SECTION__FIELD → nested;
    values parsed as YAML."""
    out: dict[str, Any] = {}
    for key, raw in env.items():
        if not key.startswith(ENV_PREFIX) or key.startswith("LINKRAG_UI_USER"):
            continue
        name = key[len(ENV_PREFIX) :].lower()
        if name in ("data", "data_dir"):
            out["data_dir"] = raw
            continue
        if name == "executor":  # LINKRAG_EXECUTOR=ray: the one top-level choice worth overriding
            out["executor"] = raw
            continue
        if "__" not in name:
            continue  # LINKRAG_UI_PASSWORD and friends are read where they are used
        *sections, field = name.split("__")  # LINKRAG_ANSWER__LLM__MODEL → answer.llm.model
        target = out
        for section in sections:
            target = target.setdefault(section, {})
        target[field] = yaml.safe_load(raw) if raw else raw
    return out


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _describe(err: ValidationError, origin: str) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = "unknown setting; check the spelling against the README's config reference"
    return f"config error in {origin}: {where}: {msg}"


def load_config(
    path: str | Path | None = "config.yaml", env: dict[str, str] | None = None
) -> AppConfig:
    """Read YAML (a missing default file means defaults), apply env overrides, validate.

    Relative `data_dir` values are resolved against the config file's folder, so the
    same config works from any working directory.
    """
    env = dict(os.environ) if env is None else env
    data: dict[str, Any] = {}
    origin = "defaults"
    base = Path.cwd()
    if path is not None:
        file = Path(path)
        if file.exists():
            origin, base = str(file), file.resolve().parent
            try:
                loaded = yaml.safe_load(file.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, IsADirectoryError) as exc:
                raise ConfigError(
                    f"config error in {file}: unreadable ({exc}); it must be a UTF-8 YAML file"
                ) from exc
            except yaml.YAMLError as exc:
                line = getattr(getattr(exc, "problem_mark", None), "line", -1) + 1
                raise ConfigError(f"config error in {file}: invalid YAML near line {line}") from exc
            if loaded is not None and not isinstance(loaded, dict):
                raise ConfigError(f"config error in {file}: top level must be a mapping")
            data = loaded or {}
        elif str(path) != "config.yaml":
            raise ConfigError(f"config file not found: {file} (pass an existing --config path)")
    overrides = _env_overrides(env)
    data = _merge(data, overrides)
    try:
        config = AppConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, origin if not overrides else f"{origin}+env")) from exc
    if not config.data_dir.is_absolute():
        root = Path.cwd() if "data_dir" in overrides else base
        config = config.model_copy(update={"data_dir": (root / config.data_dir).resolve()})
    return config
