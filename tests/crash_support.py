"""Support for the crash harness: a generated site, read-only snapshots of a data dir taken
from outside the process that writes it, and runs of the real CLI killed at a marker."""

from __future__ import annotations

import json
import os
import random
import select
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import yaml
from conftest import REPO, Route

from index.store import CURRENT_FILE, index_root, read_chunks

ZH = "张量并行 流水线 显存 梯度 优化器 通信 带宽 量化 蒸馏 推理 解码 调度 批处理 缓存 算子 内核"
EN = "attention kernel batch latency throughput shard gradient optimizer bandwidth cache"
WORDS = [*ZH.split(" "), *EN.split(" ")]
QUERY = "张量并行 通信 带宽"
PAGE_DELAY = 0.06  # seconds per article response: commits spread over a window to kill in


def article_page(n: int) -> bytes:
    """A distinct little article (no two are near duplicates): about three 150-char chunks."""
    rng = random.Random(n)
    paragraphs = [
        "<p>" + "，".join(" ".join(rng.choices(WORDS, k=6)) for _ in range(4)) + "。</p>"
        for _ in range(3)
    ]
    title = f"笔记 {n}: {' '.join(rng.choices(WORDS, k=3))}"
    return (
        f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
        + "".join(paragraphs)
        + "</article></body></html>"
    ).encode()


def site_routes(count: int) -> dict[str, Route]:
    return {f"/a/{n}.html": Route(article_page(n), delay=PAGE_DELAY) for n in range(count)}


def reading_list(base: str, count: int) -> Route:
    lines = ["# 阅读清单", "", "## 笔记", ""]
    lines += [f"- [笔记 {n}]({base}/a/{n}.html)" for n in range(count)]
    return Route("\n".join(lines).encode(), "text/markdown; charset=utf-8")


def write_config(path: Path, base: str) -> Path:
    config = {
        "sources": [f"list:{base}/list.md"],
        "fetch": {"allow_loopback": True, "per_host_delay": 0, "robots": False,
                  "retries": 0, "timeout": 10},
        # one cache commit per chunk: a kill lands between two embeddings, not after all
        "index": {"chunk_size": 150, "chunk_overlap": 0, "batch_size": 1},
    }  # fmt: skip
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


# snapshots, read from outside the writer


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    if not db.exists():
        return []
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)) as conn:
        return list(conn.execute(sql).fetchall())


def articles(data_dir: Path) -> dict[str, str]:
    """URL → text hash of every committed article."""
    rows = _rows(data_dir / "linkrag.sqlite", "SELECT url, text_hash FROM articles")
    return {str(url): str(digest) for url, digest in rows}


def article_ledger(data_dir: Path) -> set[str]:
    """URLs whose ledger row says an article was stored for them."""
    rows = _rows(data_dir / "linkrag.sqlite", "SELECT url FROM fetches WHERE outcome='article'")
    return {str(url) for (url,) in rows}


def cached_vectors(data_dir: Path) -> int:
    rows = _rows(data_dir / "embeddings.sqlite", "SELECT count(*) FROM embeddings")
    return int(str(rows[0][0])) if rows else 0


def current(data_dir: Path) -> str:
    pointer = index_root(data_dir) / CURRENT_FILE
    return pointer.read_text("utf-8").strip() if pointer.exists() else ""


def staging(data_dir: Path) -> list[str]:
    root = index_root(data_dir)
    return sorted(p.name for p in root.iterdir() if p.name.startswith(".tmp-"))


def chunk_ids(data_dir: Path) -> set[str]:
    folder = index_root(data_dir) / current(data_dir)
    return {chunk.chunk_id for chunk in read_chunks(folder)}


def integrity(data_dir: Path) -> dict[str, str]:
    """`PRAGMA integrity_check` of every SQLite file (a normal connection: it recovers the WAL
    a killed writer left, as the next linkrag run would)."""
    found = {}
    for db in sorted(data_dir.glob("*.sqlite")):
        with closing(sqlite3.connect(db)) as conn:
            found[db.name] = str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    return found


# running the real CLI


class Run(Protocol):
    def running(self) -> bool: ...

    def signal(self, sig: signal.Signals) -> None: ...

    def finish(self) -> tuple[int, str]:
        """Wait for the end: the exit code (-signal when killed) and stderr."""
        ...


class Spawned:
    """`python -m ui.cli ...` in a fresh interpreter, exactly as a user starts it."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ui.cli", *argv],
            env={**os.environ, "PYTHONPATH": str(REPO), **env},
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def running(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def finish(self) -> tuple[int, str]:
        _, err = self.proc.communicate(timeout=120)
        return self.proc.returncode, err.decode(errors="replace")


class Zygote:
    """One warm interpreter (tests/crash_zygote.py) that forks each CLI run."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("crash_zygote.py"))],
            env={**os.environ, "PYTHONPATH": str(REPO)},
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,  # select() on the pipe must see every reply line
        )

    def _reply(self) -> dict[str, int]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, "the zygote died"
        reply: dict[str, int] = json.loads(line)
        return reply

    def fork(self, argv: list[str], env: dict[str, str], stderr: Path) -> Forked:
        assert self.proc.stdin is not None
        request = {"argv": argv, "env": env, "stderr": str(stderr)}
        self.proc.stdin.write((json.dumps(request) + "\n").encode())
        return Forked(self, self._reply()["pid"], stderr)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


class Forked:
    """A CLI run forked by the zygote; only the zygote can wait for it, so it reports back."""

    def __init__(self, zygote: Zygote, pid: int, stderr: Path) -> None:
        self.zygote, self.pid, self.stderr = zygote, pid, stderr
        self.status: int | None = None

    def running(self) -> bool:
        stdout = self.zygote.proc.stdout
        assert stdout is not None
        if self.status is None and select.select([stdout], [], [], 0)[0]:
            self.status = self.zygote._reply()["status"]
        return self.status is None

    def signal(self, sig: signal.Signals) -> None:
        os.kill(self.pid, sig)

    def finish(self) -> tuple[int, str]:
        if self.status is None:
            self.status = self.zygote._reply()["status"]
        err = self.stderr.read_text(encoding="utf-8", errors="replace")
        return os.waitstatus_to_exitcode(self.status), err


@dataclass
class Outcome:
    """How a run ended: killed (with the snapshot taken just before), or finished on its own."""

    killed: bool
    snapshot: object
    seconds: float
    stderr: str
    returncode: int


def kill_when(
    run: Run,
    probe: Callable[[], object | None],
    sig: signal.Signals = signal.SIGKILL,
    timeout: float = 120,
) -> Outcome:
    """Send `sig` to `run` as soon as `probe` returns a snapshot (not None)."""
    started = time.monotonic()
    snapshot = None
    while run.running():
        assert time.monotonic() - started < timeout, "the run never reached its kill point"
        snapshot = probe()
        if snapshot is not None:
            run.signal(sig)
            break
        time.sleep(0.005)
    code, err = run.finish()
    killed = snapshot is not None and code == -sig
    return Outcome(killed, snapshot, time.monotonic() - started, err, code)
