"""Rebuild jobs, the settings panel, feedback storage and its export, without Gradio."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import threading
import weakref
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import LoopbackServer, Route

from assistant import AnswerSettings, AppConfig, Assistant, Feedback, FeedbackStore, LLMSettings
from ui.cli import main
from ui.rebuild import Progress, RebuildJob, progress_html
from ui.settings_view import OFFLINE, AnswerVariants, answer_modes, llm_status, settings_html

REPO = Path(__file__).resolve().parent.parent


def test_a_second_rebuild_is_refused_while_one_runs() -> None:
    release = threading.Event()
    runs: list[int] = []

    def work(progress: Any) -> str:
        runs.append(1)
        progress("fetch", 1, 4)
        release.wait(10)
        progress("embed", 3, 3)
        return "done"

    job = RebuildJob(work)
    assert job.start() is True
    assert job.start() is False  # refused, not queued
    release.set()
    final = job.wait(10)
    assert runs == [1] and not final.running and final.summary == "done" and final.stage == "embed"
    assert job.start() is True and job.wait(10).summary == "done"  # free again afterwards


def test_progress_shows_stage_counts_and_eta_then_the_outcome() -> None:
    state = Progress(running=True, stage="embed", done=25, total=100, started=0, stage_started=10)
    assert state.eta(now=20.0) == pytest.approx(30.0)  # 25 in 10 s → 75 more in 30 s
    html = progress_html(state, now=20.0)
    assert "embed 25/100" in html and "about 30s left" in html and 'value="25"' in html
    done = Progress(summary="ingest: 1 <new>", started=0, finished=75)
    assert "finished in 1m 15s: ingest: 1 &lt;new&gt;" in progress_html(done, now=80)
    failed = progress_html(Progress(error="boom <x>"), now=0)
    assert "Rebuild failed: boom &lt;x&gt;" in failed


def test_a_failing_rebuild_reports_one_line() -> None:
    def work(progress: Any) -> str:
        raise RuntimeError("store is\nlocked")

    job = RebuildJob(work)
    job.start()
    assert job.wait(10).error == "store is locked"


def test_llm_status_is_offline_without_an_endpoint_and_never_shows_the_key(
    loopback_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = AppConfig()
    assert llm_status(config).label == OFFLINE and llm_status(config).reachable is None
    assert "extractive" in answer_modes()
    server: LoopbackServer = loopback_server({"/v1/models": Route(b"{}", "application/json")})
    monkeypatch.setenv("MY_KEY", "sk-secret-value")
    llm = LLMSettings(base_url=server.url("/v1"), model="qwen", api_key_env="MY_KEY")
    config = AppConfig(answer=AnswerSettings(mode="openai", llm=llm))
    status = llm_status(config)
    assert status.reachable is True and "qwen" in status.label and "127.0.0.1" in status.label
    html = settings_html(config, status)
    assert "sk-secret" not in html and "$MY_KEY (set)" in html and "reachable" in html
    dead = llm.model_copy(update={"base_url": "http://127.0.0.1:9/v1"})  # the discard port
    down = AppConfig(answer=AnswerSettings(mode="openai", llm=dead))
    assert llm_status(down).reachable is False
    unset = AppConfig(answer=AnswerSettings(mode="openai"))
    assert "api.openai.com" in llm_status(unset, probe=False).label  # base_url unset: OpenAI


def test_answer_variants_share_the_index_and_follow_a_swap(tmp_path: Path) -> None:
    class FakeIndex:
        embedder = SimpleNamespace(id="fake")

    base = Assistant(AppConfig(data_dir=tmp_path), index=FakeIndex())  # type: ignore[arg-type]
    variants = AnswerVariants(base)
    assert variants.get(None, None) is base and variants.get("extractive", 6) is base
    small = variants.get("extractive", 2)
    assert small is not base and small.config.answer.top_k == 2 and small.index is base.index
    assert variants.get("extractive", 2) is small
    assert variants.get("extractive", 3).index is base.index
    old, small = weakref.ref(base.index), None  # only the variants may still hold it
    base._index = FakeIndex()  # type: ignore[assignment]  # what a rebuild's hot swap does
    assert variants.get("extractive", 2).index is base.index
    gc.collect()
    assert old() is None, "an unused variant still holds the index from before the swap"


def test_feedback_is_stored_and_exported_as_jsonl(tmp_path: Path) -> None:
    store = FeedbackStore.in_dir(tmp_path)
    assert list(store) == []
    cites = [{"n": 1, "url": "https://a.org", "title": "A", "quote": "q"}]
    store.add(Feedback("什么是 LoRA？", "LoRA 冻结权重 [1]", cites, 1))
    store.add(Feedback("q2", "a2", [], -1))
    with pytest.raises(ValueError, match="rating must be 1 or -1"):
        store.add(Feedback("q", "a", [], 0))
    out = tmp_path / "out.jsonl"
    with out.open("w", encoding="utf-8") as handle:
        assert store.export(handle) == 2
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert rows[0]["question"] == "什么是 LoRA？" and rows[0]["citations"] == cites
    assert [r["rating"] for r in rows] == [1, -1] and rows[0]["time"].endswith("+00:00")


def test_cli_feedback_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"  # LINKRAG_DATA points here (conftest)
    FeedbackStore.in_dir(data).add(Feedback("q", "a", [], 1))
    assert main(["feedback", "export"]) == 0
    assert json.loads(capsys.readouterr().out)["answer"] == "a"
    out = tmp_path / "fb.jsonl"
    assert main(["feedback", "export", "--out", str(out)]) == 0
    assert "1 ratings written" in capsys.readouterr().err
    assert json.loads(out.read_text(encoding="utf-8"))["rating"] == 1
    assert main(["feedback", "export", "--out", str(tmp_path / "no" / "x.jsonl")]) == 2
    assert "--out folder does not exist" in capsys.readouterr().err
    assert main(["feedback"]) == 2


def test_pure_ui_modules_do_not_import_gradio() -> None:
    modules = "ui.render, ui.cli, ui.cards, ui.search_view, ui.library, ui.rebuild, ui.ratelimit"
    modules += ", ui.settings_view, ui.errors_table"
    code = f"import sys, {modules}; print('gradio' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
