"""`executor: ray`: a local build never imports Ray, a missing Ray is one line, and a Ray
build on a real local cluster (started here, on 127.0.0.1) equals a local build, even when
a worker dies mid-embedding."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import DEMO, REPO
from ray_support import session_pids

from assistant import AppConfig, Assistant, ConfigError, load_config
from index import IndexSettings, RaySettings, SearchIndex
from index.cache import CACHE_FILE, text_hash
from index.chunking import embed_text
from index.dense import DenseIndex
from index.lexical import tokenize
from index.ray_tokens import token_runner
from index.state import ARTICLES_FILE, TOKENS_FILE
from index.store import CHUNKS_FILE, DENSE_FILE, current_folder, read_chunks
from ingest.ray_cluster import ClusterError
from ingest.store import DB_NAME
from ui.cli import main

QUERIES = ["ZeRO-3 切分模型参数", "KV cache", "flash attention tiling", "量化 int4", "LoRA rank"]

_LOCAL_BUILD = """
import json, sys
from assistant import Assistant, load_config
config = load_config(None)
assert config.executor == "local"
report = Assistant(config).rebuild(sources=[sys.argv[1]])
print(json.dumps({"chunks": report.index.chunks, "ray": "ray" in sys.modules}))
"""


def test_a_local_build_never_imports_ray(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    text = "# KV cache\n\n" + "PagedAttention keeps the KV cache in fixed-size blocks. " * 12
    (notes / "kv.md").write_text(text, "utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO), "LINKRAG_DATA": str(tmp_path / "data")}
    run = subprocess.run(
        [sys.executable, "-c", _LOCAL_BUILD, f"dir:{notes}"],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    outcome = json.loads(run.stdout.strip().splitlines()[-1])
    assert outcome == {"chunks": outcome["chunks"], "ray": False} and outcome["chunks"] > 0


def test_a_ray_build_with_under_two_batches_tokenizes_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Joining a cluster costs seconds, so a small incremental build tokenizes locally."""
    monkeypatch.setitem(sys.modules, "ray", None)  # reaching for Ray now fails loudly
    ray = RaySettings.model_validate({"address": "127.0.0.1:9", "tokenize": {"batch_size": 3}})
    texts = ["张量并行把矩阵按列切到多张卡上", "HCCL_CONNECT_TIMEOUT and ZeRO-3", "KV cache"]
    tokens = list(token_runner(ray)(texts[:2]))
    assert tokens == [tokenize(text) for text in texts[:2]]
    assert "zero-3" in tokens[1] and "张量" in tokens[0]
    assert list(token_runner(None)(texts)) == [tokenize(text) for text in texts]
    with pytest.raises(ClusterError, match="executor: ray needs Ray"):
        list(token_runner(ray)(texts * 2))  # two batches: those go to the cluster


def test_executor_ray_without_ray_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if not installed
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.md").write_text("# A\n\n" + "Some words here. " * 30, "utf-8")
    config = tmp_path / "config.yaml"
    config.write_text("executor: ray\nray:\n  address: 127.0.0.1:1\n", "utf-8")
    code = main(["--config", str(config), "build", "--source", f"dir:{tmp_path / 'notes'}"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.count("\n") == 0, err
    assert "executor: ray needs Ray" in err and "pip install 'linkrag[ray]'" in err


def test_executor_comes_from_config_or_environment() -> None:
    assert load_config(None, env={}).executor == "local"
    assert load_config(None, env={"LINKRAG_EXECUTOR": "ray"}).executor == "ray"
    with pytest.raises(ConfigError, match="executor"):
        load_config(None, env={"LINKRAG_EXECUTOR": "spark"})


# --- a real Ray cluster: slow tier ---------------------------------------------------------


def _map_workers(session: int) -> list[int]:
    """Pids of the cluster's Ray Data map actors (their process title names the stage)."""
    return [pid for pid, title in session_pids(session) if title.startswith("ray::MapWorker")]


def _config(data_dir: Path, executor: str, address: str, batch: int = 4) -> AppConfig:
    ray = RaySettings.model_validate(
        {
            "address": address,
            "embed": {"batch_size": batch, "concurrency": 2},
            "tokenize": {"batch_size": 2 * batch},
        }
    )
    return AppConfig(data_dir=data_dir, executor=executor, ray=ray)  # type: ignore[arg-type]


class _KillOneWorker:
    """A progress callback that SIGKILLs one map actor once the first batch is home."""

    def __init__(self, session: int) -> None:
        self.session = session
        self.first: int | None = None
        self.killed: tuple[int, int, int] | None = None  # (pid, done, total)
        self.seen: list[tuple[int, int, int]] = []  # (done, total, workers) per batch home

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != "embed" or self.killed is not None:
            return
        if self.first is None:
            self.first = done  # the cached count, before any batch
            return
        workers = _map_workers(self.session)
        self.seen.append((done, total, len(workers)))
        if workers and done < total:
            os.kill(workers[0], signal.SIGKILL)
            self.killed = (workers[0], done, total)


def _vectors(folder: Path) -> dict[int, np.ndarray]:
    dense = DenseIndex.load(folder / DENSE_FILE)
    return {int(i): np.asarray(dense._index.reconstruct(int(i))) for i in dense.ids()}


def _assert_same_build(ray_folder: Path, local_folder: Path, use: Any) -> None:
    for name in (ARTICLES_FILE, CHUNKS_FILE, TOKENS_FILE):
        assert (ray_folder / name).read_text("utf-8") == (local_folder / name).read_text("utf-8")
    got, want = _vectors(ray_folder), _vectors(local_folder)
    assert got.keys() == want.keys()
    for key, vector in want.items():
        np.testing.assert_allclose(got[key], vector, atol=1e-5)
    a = SearchIndex.load(ray_folder.parent.parent, IndexSettings(), embedder=use)
    b = SearchIndex.load(local_folder.parent.parent, IndexSettings(), embedder=use)
    for query in QUERIES:
        hits, expected = a.search(query, k=8), b.search(query, k=8)
        assert [h.chunk.chunk_id for h in hits] == [h.chunk.chunk_id for h in expected], query
        assert [h.score for h in hits] == pytest.approx([h.score for h in expected], abs=1e-5)


@pytest.mark.slow
def test_a_ray_build_equals_a_local_one_despite_a_killed_worker(
    tmp_path: Path, use: Any, ray_cluster: tuple[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    address, session = ray_cluster
    source = [f"dir:{DEMO / 'site'}"]
    local = Assistant(_config(tmp_path / "local", "local", address)).rebuild(sources=source)
    # Only cache misses travel: the Ray build starts from the local cache minus ~5/16 of it.
    (tmp_path / "ray").mkdir()
    shutil.copy(tmp_path / "local" / CACHE_FILE, tmp_path / "ray" / CACHE_FILE)
    dropped = _drop_cached(tmp_path / "ray" / CACHE_FILE, "5", local.index.path)
    chaos = _KillOneWorker(session)
    with caplog.at_level(logging.INFO):
        ray = Assistant(_config(tmp_path / "ray", "ray", address)).rebuild(chaos, sources=source)

    assert chaos.killed is not None, f"no map worker killed mid-embedding: {chaos.seen}"
    assert local.index.embedded == local.index.chunks > 40
    assert ray.index.embedded == dropped > 8  # a few batches of 4
    # The misses came home as FAISS sub-indexes (one per batch) merged into the flat index.
    assert _merged_sub_indexes(caplog.text) >= dropped // 4
    assert _tokenized_on_ray(caplog.text) == ray.index.chunks  # in tasks of 8 chunks
    _assert_same_build(ray.index.path, local.index.path, use)


def _drop_cached(cache: Path, below: str, version: Path) -> int:
    """Delete the cached vectors whose hash sorts below `below`; returns how many were the
    chunks' (the others are the query adapter's probe sentences, which `embedded` skips)."""
    chunks = {text_hash(embed_text(chunk)) for chunk in read_chunks(version)}
    with sqlite3.connect(cache) as db:
        query = "SELECT text_hash FROM embeddings WHERE text_hash < ?"
        gone = [key for (key,) in db.execute(query, (below,))]
        db.execute("DELETE FROM embeddings WHERE text_hash < ?", (below,))
    return sum(1 for key in gone if key in chunks)


def _tokenized_on_ray(log: str) -> int:
    found = re.findall(r"tokenized (\d+) chunks on Ray", log)
    assert found, "BM25 tokenization did not run on Ray"
    return int(found[-1])


def _merged_sub_indexes(log: str) -> int:
    found = re.findall(r"merged (\d+) sub-indexes", log)
    assert found, "no sub-index merge logged"
    return int(found[-1])


@pytest.mark.slow
def test_a_ray_build_of_the_shared_archive_equals_the_local_one(
    tmp_path: Path,
    use: Any,
    ray_cluster: tuple[str, int],
    shared_archive: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The session's local build of the whole archive against a Ray build of the same store
    whose embedding cache lacks about 1/21 of the vectors (Ray embeds those, a few hundred)."""
    data = tmp_path / "ray"
    data.mkdir()
    # Ingest stays local (fetch and extract on Ray are not built yet): the same store.
    for name in (DB_NAME, CACHE_FILE):
        shutil.copy(shared_archive / name, data / name)
    dropped = _drop_cached(data / CACHE_FILE, "0c", current_folder(shared_archive))
    with caplog.at_level(logging.INFO):
        report = Assistant(_config(data, "ray", ray_cluster[0], batch=64)).reindex()

    assert 300 < report.embedded == dropped < 1000 and report.chunks > 12000
    assert _merged_sub_indexes(caplog.text) >= dropped // 64
    assert _tokenized_on_ray(caplog.text) == report.chunks  # the build reuses no tokens
    _assert_same_build(report.path, current_folder(shared_archive), use)
