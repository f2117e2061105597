"""Versioned index folders under `data_dir/index/`, with an atomically swapped CURRENT pointer.

A build writes everything into `index/.tmp-<version>/`, renames it to `index/<version>/`
and only then replaces `index/CURRENT`. Until that last `os.replace`, readers keep
loading the previous version, so a crash mid-build never breaks search. A build holds a
flock() on its staging folder, so the next publish can tell a killed build's folder (the
kernel dropped its lock) from one still being written, and reclaim its space at once.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
import shutil
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from index.settings import IndexSettings
from index.types import Chunk

log = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2: FAISS ids are chunk keys (IndexIDMap2), not row numbers
DENSE_FILE = "faiss.index"
LEXICAL_DIR = "bm25"
CHUNKS_FILE = "chunks.jsonl"
META_FILE = "meta.json"
CURRENT_FILE = "CURRENT"
_STALE_SECONDS = 3600  # an unlocked claim (.new-) this old belongs to a build that died


class IndexLoadError(Exception):
    """The index cannot be loaded; the message names the problem and the fix."""

    cause = (
        "The live index is damaged or unreadable: missing or corrupt files, or vectors "
        "that do not match its chunks."
    )
    fix = (
        "Run `linkrag index` to build a fresh version (the old one is replaced only when "
        "the new one is complete)."
    )


class IndexNotFoundError(IndexLoadError):
    """No index has been built in this data directory yet."""

    cause = "No index has been built in this data dir yet."
    fix = "Run `linkrag build`; check that `data_dir` or `LINKRAG_DATA` points where you built it."


class IndexMismatchError(IndexLoadError):
    """The index was built with settings that differ from the configuration."""

    cause = (
        "The index was built with another embedder or index format than the config now asks for."
    )
    fix = (
        "Run `linkrag index --full` to rebuild for the current config, or restore the "
        "config it was built with."
    )


def index_root(data_dir: Path) -> Path:
    return Path(data_dir) / "index"


def current_version(data_dir: Path) -> str | None:
    """The live version name, or None when no build has completed."""
    pointer = index_root(data_dir) / CURRENT_FILE
    try:
        version = pointer.read_text("utf-8").strip()
    except FileNotFoundError:
        return None
    return version or None


def current_folder(data_dir: Path) -> Path:
    """The live version's folder; IndexNotFoundError when there is none."""
    version = current_version(data_dir)
    folder = index_root(data_dir) / version if version else None
    if folder is None or not (folder / META_FILE).exists():
        raise IndexNotFoundError(f"no index yet in {data_dir}: run `linkrag build`")
    return folder


@contextmanager
def staging_folder(data_dir: Path) -> Iterator[tuple[str, Path]]:
    """A fresh version name and the empty staging folder a build writes into, locked while
    the build lives; removed when the build fails."""
    version = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)
    root = index_root(data_dir)
    claim = root / f".new-{version}"
    claim.mkdir(parents=True)
    fd = os.open(claim, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # before it is named staging: never seen unlocked
        staging = root / f".tmp-{version}"
        os.replace(claim, staging)  # the lock belongs to the folder and moves with it
        try:
            yield version, staging
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    finally:
        os.close(fd)


def publish(data_dir: Path, version: str, staging: Path) -> Path:
    """Move a finished staging folder into place and point CURRENT at it."""
    root = index_root(data_dir)
    previous = current_version(data_dir)
    folder = root / version
    os.replace(staging, folder)
    tmp = root / f"{CURRENT_FILE}.{secrets.token_hex(4)}.tmp"
    tmp.write_text(version + "\n", "utf-8")
    os.replace(tmp, root / CURRENT_FILE)
    _prune(root, keep={version, previous})
    return folder


def _prune(root: Path, keep: set[str | None]) -> None:
    """Drop versions other than the live and previous ones, and dead builds' folders."""
    now = time.time()
    for entry in root.iterdir():
        if not entry.is_dir() or entry.name in keep:
            continue
        building = entry.name.startswith((".tmp-", ".new-"))
        if building and _locked(entry):
            continue  # a concurrent build is writing it
        if entry.name.startswith(".new-") and now - entry.stat().st_mtime < _STALE_SECONDS:
            continue  # possibly claimed a moment ago and not locked yet
        if building or (entry / META_FILE).exists():
            shutil.rmtree(entry, ignore_errors=True)


def _locked(folder: Path) -> bool:
    """Whether a live process holds the build lock on `folder`."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return False  # already gone
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also releases the lock just taken
    return False


def make_meta(fingerprint: dict[str, Any], dim: int, articles: int, chunks: int) -> dict[str, Any]:
    """meta.json: the fingerprint (for incremental builds) and its fields at top level."""
    return {
        **fingerprint,
        "fingerprint": fingerprint,
        "dim": dim,
        "articles": articles,
        "chunks": chunks,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_meta(folder: Path, meta: dict[str, Any]) -> None:
    (folder / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", "utf-8")


def read_meta(folder: Path) -> dict[str, Any]:
    try:
        meta: dict[str, Any] = json.loads((folder / META_FILE).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexLoadError(
            f"unreadable {folder / META_FILE} ({exc}): run `linkrag index`"
        ) from exc
    return meta


def check_meta(meta: dict[str, Any], settings: IndexSettings, embedder_id: str) -> None:
    """Refuse an index the configuration cannot query; warn when only chunking differs."""
    if meta.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"index format {meta.get('format_version')} but this linkrag reads format "
            f"{FORMAT_VERSION}: run `linkrag index` to rebuild"
        )
    if meta.get("embedder") != embedder_id:
        raise IndexMismatchError(
            f"index built with embedder {meta.get('embedder')} but config says {embedder_id}: "
            "run `linkrag index` to rebuild"
        )
    built = (meta.get("chunk_size"), meta.get("chunk_overlap"))
    if built != (settings.chunk_size, settings.chunk_overlap):
        log.warning(
            "index built with chunk size/overlap %s/%s, config says %s/%s: run `linkrag index`"
            " to apply",
            *built,
            settings.chunk_size,
            settings.chunk_overlap,
        )


def write_chunks(folder: Path, chunks: Iterable[Chunk]) -> None:
    with (folder / CHUNKS_FILE).open("w", encoding="utf-8") as out:
        for chunk in chunks:
            out.write(json.dumps(asdict(chunk), ensure_ascii=False) + "\n")


def read_chunks(folder: Path) -> Iterator[Chunk]:
    with (folder / CHUNKS_FILE).open(encoding="utf-8") as lines:
        for line in lines:
            yield Chunk(**json.loads(line))


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
