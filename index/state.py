"""What an incremental build needs from the live version, and how it decides to start over.

A version folder records a *fingerprint* of everything that shapes its contents (embedder,
chunker version and parameters, tokenizer, dense index kind) and a *signature* per article.
The next build reuses the chunks, BM25 tokens and vectors of articles whose signature is
unchanged, and starts from scratch only when the fingerprint differs.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.adapter import QueryAdapter
from index.chunking import CHUNKER_VERSION
from index.lexical import tokenizer_id
from index.settings import IndexSettings
from index.store import (
    DENSE_FILE,
    FORMAT_VERSION,
    IndexLoadError,
    IndexNotFoundError,
    current_folder,
    read_chunks,
    read_meta,
)
from index.tokens import TokenTable
from index.types import Chunk
from ingest import Article

log = logging.getLogger(__name__)

TOKENS_FILE = "tokens.jsonl"
ARTICLES_FILE = "articles.json"
# Settings that decide what a version holds; the rest (fusion weights, k) apply at query time.
_SHAPING = ("chunk_size", "chunk_overlap", "dense", "hnsw_m", "hnsw_ef_construction",
            "ivf_nlist", "pq_m", "pq_bits", "adapter", "adapter_pairs",
            "adapter_epochs", "adapter_min_passages")  # fmt: skip


def fingerprint(settings: IndexSettings, embedder_id: str) -> dict[str, Any]:
    """Everything that shapes an index version; any change means a full rebuild."""
    values = settings.model_dump()
    shaping = {name: values[name] for name in _SHAPING if name in values}
    return {
        "format_version": FORMAT_VERSION,
        "embedder": embedder_id,
        "chunker": CHUNKER_VERSION,
        "tokenizer": tokenizer_id(),
        **shaping,
    }


def fingerprint_change(old: dict[str, Any], new: dict[str, Any]) -> str:
    """What changed between two fingerprints, e.g. "chunk_size 600 → 800" ("" if nothing)."""
    names = sorted(set(old) | set(new), key=lambda n: list(new).index(n) if n in new else 99)
    return ", ".join(
        f"{name} {old.get(name, '(unset)')} → {new.get(name, '(unset)')}"
        for name in names
        if old.get(name) != new.get(name)
    )


def article_signature(article: Article) -> str:
    """Changes whenever anything the chunker reads from the article changes."""
    parts = (str(article.id), article.url, article.title, article.topic, article.text)
    return hashlib.sha1("\x00".join(parts).encode("utf-8")).hexdigest()


@dataclass
class Previous:
    """The live version as an incremental build sees it."""

    version: str
    folder: Path
    chunks: list[Chunk]
    tokens: TokenTable  # row i: the BM25 tokens of chunks[i]
    signatures: dict[int, str]
    adapter: QueryAdapter | None = None  # kept by small updates (index/adapter.py)

    @property
    def dense_path(self) -> Path:
        return self.folder / DENSE_FILE


def load_previous(data_dir: Path, wanted: dict[str, Any]) -> tuple[Previous | None, str]:
    """The live version if it can be built upon, else None and why a full build is needed."""
    try:
        folder = current_folder(data_dir)
        meta = read_meta(folder)
    except IndexNotFoundError:
        return None, "no index yet"
    except IndexLoadError as exc:
        return None, f"the live index is unreadable ({exc})"
    if "fingerprint" not in meta:
        old = meta.get("format_version")
        return None, f"the live index is from an older linkrag (format {old})"
    change = fingerprint_change(meta["fingerprint"], wanted)
    if change:
        return None, f"index settings changed ({change})"
    try:
        chunks = list(read_chunks(folder))
        tokens = TokenTable.of(read_tokens(folder))
        signatures = read_signatures(folder)
        adapter = QueryAdapter.load(folder, int(meta.get("dim", 0)))
    except (OSError, ValueError, TypeError) as exc:
        return None, f"the live index is unreadable ({exc})"
    if len(tokens) != len(chunks):
        return None, f"the live index is damaged ({len(tokens)} token rows, {len(chunks)} chunks)"
    return Previous(folder.name, folder, chunks, tokens, signatures, adapter), ""


def write_tokens(folder: Path, tokens: Iterable[list[str]]) -> None:
    with (folder / TOKENS_FILE).open("w", encoding="utf-8") as out:
        for row in tokens:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_tokens(folder: Path) -> Iterable[list[str]]:
    with (folder / TOKENS_FILE).open(encoding="utf-8") as lines:
        for line in lines:
            row: list[str] = json.loads(line)
            yield row


def write_signatures(folder: Path, signatures: dict[int, str]) -> None:
    data = {str(key): value for key, value in sorted(signatures.items())}
    (folder / ARTICLES_FILE).write_text(json.dumps(data, indent=0) + "\n", "utf-8")


def read_signatures(folder: Path) -> dict[int, str]:
    data = json.loads((folder / ARTICLES_FILE).read_text("utf-8"))
    return {int(key): str(value) for key, value in data.items()}
