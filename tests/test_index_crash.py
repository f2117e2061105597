"""A build killed mid-way (SIGKILL, no cleanup code runs) leaves the old index serving,
and the next build resumes from the embeddings the dead one already paid for."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from index import IndexSettings, SearchIndex, build_index, current_version
from index.store import index_root
from ingest import Article, ArticleStore

REPO = Path(__file__).resolve().parent.parent
ZH_WORDS = "张量并行 流水线 显存 梯度 优化器 通信 带宽 量化 蒸馏 推理 解码 调度 批处理 缓存"
EN_WORDS = "attention kernel batch latency throughput shard gradient optimizer bandwidth"
WORDS = [*ZH_WORDS.split(" "), *EN_WORDS.split(" ")]


def _articles(count: int = 16) -> list[Article]:
    rng = random.Random(7)
    articles = []
    for n in range(count):
        sentences = [" ".join(rng.choices(WORDS, k=8)) + "。" for _ in range(30)]
        text = f"# 笔记 {n}\n\n" + "".join(sentences)
        articles.append(Article(url=f"https://example.org/n{n}", title=f"笔记 {n}", text=text))
    return articles


def _cached_rows(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "embeddings.sqlite") as db:
        return int(db.execute("SELECT count(*) FROM embeddings").fetchone()[0])


def _kill_once_embedding_started(data_dir: Path, baseline: int) -> int:
    env = {
        **os.environ,
        "LINKRAG_DATA": str(data_dir),
        "LINKRAG_INDEX__CHUNK_SIZE": "150",
        "LINKRAG_INDEX__CHUNK_OVERLAP": "0",
        "LINKRAG_INDEX__BATCH_SIZE": "1",  # one commit per chunk: a wide window to kill in
    }
    cmd = [sys.executable, "-m", "ui.cli", "--config", str(REPO / "config.yaml"), "index"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while _cached_rows(data_dir) <= baseline and proc.poll() is None:
        assert time.monotonic() < deadline, "the build never started embedding"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    return proc.returncode


def test_killed_build_keeps_old_index_and_next_build_resumes(tmp_path: Path, use: Any) -> None:
    with ArticleStore.open(tmp_path) as store:
        for article in _articles():
            store.add_article(article)
        old = build_index(store, tmp_path, IndexSettings(), embedder=use)
    baseline = _cached_rows(tmp_path)

    assert _kill_once_embedding_started(tmp_path, baseline) == -signal.SIGKILL

    assert current_version(tmp_path) == old.version
    assert [p.name for p in index_root(tmp_path).iterdir() if p.is_dir()] == [old.version]
    serving = SearchIndex.load(tmp_path, IndexSettings(), embedder=use)
    assert serving.search("张量并行 通信", k=3)
    paid_for = _cached_rows(tmp_path) - baseline
    assert paid_for > 0

    small = IndexSettings(chunk_size=150, chunk_overlap=0)
    with ArticleStore.open(tmp_path) as store:
        resumed = build_index(store, tmp_path, small, embedder=use)
    assert resumed.mode == "full" and resumed.version != old.version
    assert resumed.embedded <= resumed.chunks - paid_for  # the dead build's work was kept
    assert SearchIndex.load(tmp_path, small, embedder=use).chunk_count == resumed.chunks
