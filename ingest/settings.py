"""Typed settings for ingest; loaded once at the edge (see assistant.config)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class FetchSettings(BaseModel):
    """How links are fetched over the network."""

    model_config = ConfigDict(extra="forbid")

    concurrency: int = Field(8, ge=1, le=256, description="Maximum requests in flight at once.")
    per_host: int = Field(2, ge=1, le=64, description="Maximum requests in flight per host.")
    timeout: float = Field(20.0, gt=0, description="Connect and read timeout in seconds.")
    retries: int = Field(2, ge=0, le=10, description="Retries on 429, 5xx and connection errors.")
    max_bytes: int = Field(
        10_000_000, ge=1024, description="Responses larger than this are refused (bytes)."
    )
    max_redirects: int = Field(5, ge=0, le=30, description="Redirects followed before giving up.")
    user_agent: str = Field(
        "linkrag/0.1 (+https://github.com/linkrag/linkrag)",
        description="User-Agent header sent with every request.",
    )
    allow_loopback: bool = Field(
        False, description="Allow fetching from 127.0.0.0/8 and ::1 (tests, local mirrors)."
    )
    allow_private: bool = Field(
        False, description="Allow fetching from private, link-local and metadata addresses."
    )
    github_raw: bool = Field(
        True, description="Fetch GitHub blob pages as raw markdown (cleaner text)."
    )
    per_host_delay: float = Field(
        0.5, ge=0, le=60, description="Seconds between two requests to the same host."
    )
    robots: bool = Field(True, description="Obey robots.txt (cached per host per run).")
    max_backoff: float = Field(
        30.0, gt=0, description="Longest wait between retries, Retry-After included (seconds)."
    )
    accept_types: list[str] = Field(
        default_factory=lambda: [
            "text/html",
            "application/xhtml+xml",
            "text/markdown",
            "text/x-markdown",
            "text/plain",
            "application/pdf",
        ],
        description="Content types fetched as candidate articles; others are refused.",
    )


class IngestSettings(BaseModel):
    """What counts as an article once fetched."""

    model_config = ConfigDict(extra="forbid")

    min_chars: int = Field(
        200, ge=0, description="Pages with less main text than this are not articles."
    )
    near_duplicate: float = Field(
        0.85,
        ge=0.5,
        le=1.0,
        description="MinHash Jaccard similarity above which two articles are one (cross-posts).",
    )
    raw_cache: bool = Field(
        True, description="Keep raw responses under data_dir so re-extraction needs no refetch."
    )


class RayIngestSettings(BaseModel):
    """How fetching and extraction run as Ray tasks when `executor: ray`."""

    model_config = ConfigDict(extra="forbid")

    batch_size: int = Field(
        32, ge=1, le=65536, description="Links, or WARC articles, per Ray task."
    )
    concurrency: int = Field(2, ge=1, le=4096, description="Ray tasks in flight at once.")
    cpus_per_task: float = Field(1.0, gt=0, le=256, description="CPUs each Ray task reserves.")
