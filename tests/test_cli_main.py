"""The `linkrag` CLI end to end: build from a folder, JSON contracts, batch mode, exit codes."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_assistant_corpus import ARTICLES, build_with_cli

from index import Embedder
from ingest import ArticleStore
from ui.cli import main

REPO = Path(__file__).resolve().parent.parent
SEARCH_KEYS = {"rank", "url", "title", "score", "text", "chunk_id"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, use: Embedder) -> Path:
    """`linkrag build --source dir:FOLDER` over the corpus written as .md files."""
    return build_with_cli(tmp_path_factory.mktemp("cli"))


@pytest.fixture
def data(built: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LINKRAG_DATA", str(built))
    return built


def articles_by_url(data_dir: Path) -> dict[str, str]:
    with ArticleStore.open(data_dir) as store:
        return {a.url: a.text for a in store.iter_articles()}


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


def test_search_json_follows_the_contract(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "ZeRO-3 怎么切分参数？", "-k", "3", "--json"]) == 0
    [line] = json_lines(capsys.readouterr().out)
    assert line["query"] == "ZeRO-3 怎么切分参数？"
    hits = line["hits"]
    assert isinstance(hits, list) and len(hits) == 3
    assert all(set(hit) == SEARCH_KEYS for hit in hits)
    assert [hit["rank"] for hit in hits] == [1, 2, 3]
    texts = articles_by_url(data)
    assert hits[0]["url"].endswith("/zero.md") and hits[0]["url"] in texts
    assert hits[0]["text"] in texts[hits[0]["url"]]


def test_ask_json_cites_real_articles_with_verbatim_quotes(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ask", "What does PagedAttention solve?", "--json"]) == 0
    [line] = json_lines(capsys.readouterr().out)
    assert set(line) == {
        "question", "answer", "abstained", "citations", "unsupported", "rewritten_query"
    }  # fmt: skip
    assert line["unsupported"] == [] and line["rewritten_query"] is None
    assert line["abstained"] is False and "[1]" in str(line["answer"])
    texts = articles_by_url(data)
    citations = line["citations"]
    assert isinstance(citations, list) and citations
    for citation in citations:
        assert set(citation) == {"n", "url", "title", "quote", "start", "end", "fragment_url"}
        assert citation["quote"] in texts[citation["url"]]
        text, start, end = texts[citation["url"]], citation["start"], citation["end"]
        assert (
            isinstance(start, int) and isinstance(end, int) and text[start:end] == citation["quote"]
        )
        assert str(citation["fragment_url"]).startswith(str(citation["url"]) + "#:~:text=")
    assert any("fragmentation" in c["quote"] for c in citations)


def test_ask_json_abstains_off_topic(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "谁赢得了1998年世界杯？", "--json"]) == 0
    [line] = json_lines(capsys.readouterr().out)
    assert line["abstained"] is True and line["citations"] == []
    assert str(line["answer"]).startswith("资料中未找到")


@pytest.mark.parametrize("command", ["search", "ask"])
def test_batch_mode_answers_one_line_per_query(
    data: Path, command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    queries = ["What is LoRA?", "FlashAttention SRAM tiling", "ZeRO-3 切分参数"]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join([queries[0], "", *queries[1:]])))
    assert main([command, "--json"]) == 0
    lines = json_lines(capsys.readouterr().out)
    key = "query" if command == "search" else "question"
    assert [line[key] for line in lines] == queries


def test_status_json(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--json"]) == 0
    [status] = json_lines(capsys.readouterr().out)
    assert status["articles"] == len(ARTICLES) and status["embedder"] == "use-m3"
    assert isinstance(status["chunks"], int) and status["chunks"] >= len(ARTICLES)
    assert isinstance(status["index_version"], str)
    assert status["links"] == 0 and status["fetch_failures"] == 0


def test_eval_reports_retrieval_metrics(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    urls = {u.rsplit("/", 1)[-1]: u for u in articles_by_url(data)}
    qa = tmp_path / "qa.jsonl"
    rows = [
        {"question": "ZeRO-3 怎么切分参数？", "gold_urls": [urls["zero.md"]]},
        {
            "question": "Why is PagedAttention memory efficient?",
            "gold_urls": [urls["paged-attention.md"]],
        },
        {"question": "Unanswerable?", "gold_urls": []},
    ]
    qa.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    assert main(["eval", str(qa), "--json"]) == 0
    [result] = json_lines(capsys.readouterr().out)
    metrics = result["metrics"]["all"]["all"]  # type: ignore[index]
    assert metrics["questions"] == 3 and metrics["answerable"] == 2
    assert metrics["recall@1"] == 1.0 and metrics["mrr@10"] == 1.0


def test_ingest_reports_progress_on_stderr_and_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "lora.md").write_text(ARTICLES[3].text, encoding="utf-8")
    assert main(["ingest", "--source", f"dir:{docs}"]) == 0
    out, err = capsys.readouterr()
    assert "1 new" in out and "extract" in err


def assert_one_line_error(err: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("linkrag: error:") and "Traceback" not in err
    assert all(needle in lines[0] for needle in needles), lines[0]


def test_bad_config_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("index:\n  chunk_sise: 500\n", encoding="utf-8")
    assert main(["--config", str(config), "status"]) == 2
    assert_one_line_error(capsys.readouterr().err, "chunk_sise")


def test_config_that_is_not_utf8_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_bytes("index:\n  embedder: 模型\n".encode("gb18030"))  # found by fuzzing
    assert main(["--config", str(config), "status"]) == 2
    assert_one_line_error(capsys.readouterr().err, "UTF-8")


def test_missing_index_exits_2_naming_the_fix(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "anything"]) == 2
    assert_one_line_error(capsys.readouterr().err, "linkrag build")


def test_bad_source_and_bad_usage_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", "--source", "ftp:nowhere"]) == 2
    assert_one_line_error(capsys.readouterr().err)
    assert main(["search", "x", "-k", "many"]) == 2
    assert_one_line_error(capsys.readouterr().err, "-k")


def test_real_process_bad_config_has_no_traceback(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("answer: [not, a, mapping\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "ui.cli", "--config", str(config), "status", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "LINKRAG_DATA": str(tmp_path)},
    )
    assert done.returncode == 2 and done.stdout == ""
    assert_one_line_error(done.stderr, "config error", "invalid YAML")


def test_ctrl_c_while_the_cli_still_imports_is_one_line(tmp_path: Path) -> None:
    """The console script's first second is spent importing numpy, FAISS and the
    assistant; a Ctrl-C then must not print a traceback."""
    # The child says "ready" from inside the import of the assistant package, so the
    # signal lands in the middle of start-up, not before or after it.
    child = textwrap.dedent(
        """
        import sys
        class Announce:
            def find_spec(self, name, path, target=None):
                if name == "assistant":
                    sys.stderr.write("ready\\n")
                    sys.stderr.flush()
        sys.meta_path.insert(0, Announce())
        from ui.entry import main
        sys.exit(main(["status"]))
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", child],
        cwd=REPO,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "LINKRAG_DATA": str(tmp_path)},
    )
    assert process.stderr is not None
    assert process.stderr.readline() == "ready\n"
    process.send_signal(signal.SIGINT)
    err = process.stderr.read()
    assert process.wait(timeout=60) == 130, err
    # A library may warn on stderr while importing; what matters is no traceback.
    assert "Traceback" not in err and err.rstrip().endswith("linkrag: interrupted"), err
