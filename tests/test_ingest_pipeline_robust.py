"""Near duplicates across sites, truncated WARCs, signals, folders with PDFs, `status`."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from test_ingest_pipeline import write_warc

from ingest import ArticleStore, FetchSettings, IngestSettings, parse_source_spec, run_ingest
from ui.cli import main


def post(n: int, topic: str = "ZeRO") -> str:
    lines = [f"# {topic} 笔记\n"]
    lines += [
        f"第{i}节：{topic} 把参数切分到 {i + 2} 个数据并行进程上，显存随之下降。" for i in range(n)
    ]
    return "\n\n".join(lines)


TOPICS = ["ZeRO", "LoRA", "vLLM", "GPTQ", "NCCL", "FlashAttention", "PagedAttention"]


def distinct(i: int) -> bytes:
    """Articles sharing no shingles (every sentence names its own topic and numbers)."""
    topic = TOPICS[i]
    lines = [f"# {topic}"] + [
        f"{topic} note {i * 100 + n}: {topic} step {n * 7 + i} uses {n + i * 3} units."
        for n in range(25)
    ]
    return "\n\n".join(lines).encode()


def records(count: int) -> list[tuple[str, str, bytes, int]]:
    return [
        (f"https://blog{i}.example/p/{i}", "text/markdown; charset=utf-8", distinct(i), 200)
        for i in range(count)
    ]


def test_cross_post_on_three_sites_is_one_article(tmp_path: Path) -> None:
    text = post(40)
    warc = write_warc(
        tmp_path / "x.warc.gz",
        [
            ("https://zhuanlan.zhihu.com/p/1", "text/markdown; charset=utf-8", text.encode(), 200),
            (
                "https://juejin.cn/post/2",
                "text/markdown; charset=utf-8",
                ("转载自知乎。\n\n" + text + "\n\n关注公众号。").encode(),
                200,
            ),
            (
                "https://a.example/zero",
                "text/markdown; charset=utf-8",
                (text + "\n\n（完）").encode(),
                200,
            ),
            (
                "https://b.example/other",
                "text/markdown; charset=utf-8",
                post(40, "KV").encode(),
                200,
            ),
        ],
    )
    with ArticleStore.open(tmp_path / "data") as store:
        report = run_ingest(
            store, [parse_source_spec(f"warc:{warc}")], FetchSettings(), IngestSettings()
        )
        assert report.articles_new == 2 and report.near_duplicates == 2
        zero, _ = store.iter_articles()
        assert zero.url == "https://zhuanlan.zhihu.com/p/1"
        assert {"https://juejin.cn/post/2", "https://a.example/zero"} <= set(zero.aliases)
        assert store.ledger_summary()["outcomes"] == {"article": 2, "near_duplicate": 2}
    # Incremental: signatures are stored, so a later run still finds the cross-post.
    later = write_warc(
        tmp_path / "later.warc.gz",
        [
            (
                "https://c.example/zero",
                "text/markdown; charset=utf-8",
                (text + "\n\n转载").encode(),
                200,
            )
        ],
    )
    with ArticleStore.open(tmp_path / "data") as store:
        again = run_ingest(
            store, [parse_source_spec(f"warc:{later}")], FetchSettings(), IngestSettings()
        )
        assert again.near_duplicates == 1 and store.stats().articles == 2


@pytest.mark.parametrize(("cut", "ledger_rows"), [(100, 1), (300, 0)])
def test_truncated_warc_keeps_the_readable_records(
    tmp_path: Path, cut: int, ledger_rows: int
) -> None:
    """Cut inside the last body (that record fails as "truncated"), or inside its header
    (the record is not even seen); either way one line says so and 3 articles remain."""
    warc = write_warc(tmp_path / "t.warc.gz", records(4))
    data = warc.read_bytes()
    warc.write_bytes(data[: len(data) - cut])
    with ArticleStore.open(tmp_path / "data") as store:
        report = run_ingest(
            store, [parse_source_spec(f"warc:{warc}")], FetchSettings(), IngestSettings()
        )
        assert report.articles_new == 3 and report.errors == []
        [line] = report.warnings
        assert "t.warc.gz is truncated" in line and "\n" not in line
        kinds = store.ledger_summary()["failure_kinds"]
        assert kinds.get("truncated", {}).get("count", 0) == ledger_rows


def test_sigterm_stops_after_the_current_article_and_a_rerun_continues(tmp_path: Path) -> None:
    warc = write_warc(tmp_path / "s.warc.gz", records(6))
    spec = [parse_source_spec(f"warc:{warc}")]

    def progress(stage: str, done: int, total: int) -> None:
        if done == 2:
            os.kill(os.getpid(), signal.SIGTERM)  # the handler only sets a flag

    with ArticleStore.open(tmp_path / "data") as store:
        report = run_ingest(store, spec, FetchSettings(), IngestSettings(), progress=progress)
        assert report.interrupted and report.articles_new == 2
        assert store.stats().articles == 2 and store.stats().fetches == 2
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored
        rest = run_ingest(store, spec, FetchSettings(), IngestSettings())
        assert not rest.interrupted and rest.articles_new == 4 and rest.unchanged == 2


MINIMAL_PDF = b"""%PDF-1.4
1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj
2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj
3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R
/Resources << /Font << /F1 5 0 R >> >> >> endobj
4 0 obj << /Length 60 >> stream
BT /F1 12 Tf 72 720 Td (PagedAttention pages the KV cache.) Tj ET
endstream endobj
5 0 obj << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> endobj
trailer << /Root 1 0 R >>
%%EOF
"""


def test_folder_with_pdf_and_unchanged_files(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "zero.md").write_text(post(20), encoding="utf-8")
    (folder / "paper.pdf").write_bytes(MINIMAL_PDF)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    spec = [parse_source_spec(f"dir:{folder}")]
    with ArticleStore.open(tmp_path / "data") as store:
        report = run_ingest(store, spec, FetchSettings(), IngestSettings(min_chars=20))
        assert report.errors == [] and report.extracted == 3
        assert report.articles_new >= 1 and report.articles_new + report.skipped == 3
        [zero] = [a for a in store.iter_articles() if a.url.endswith("zero.md")]
        assert zero.topic == "sub"
        again = run_ingest(store, spec, FetchSettings(), IngestSettings(min_chars=20))
        assert again.extracted == 0 and again.unchanged == 3


def test_folder_symlinks_that_escape_are_recorded_not_followed(tmp_path: Path) -> None:
    folder, outside = tmp_path / "docs", tmp_path / "secret"
    folder.mkdir()
    outside.mkdir()
    (outside / "keys.md").write_text("# Keys\n\nAPI key: sk-do-not-leak. " * 20, encoding="utf-8")
    (folder / "inside.md").write_text(post(20), encoding="utf-8")
    (folder / "leak.md").symlink_to(outside / "keys.md")
    (folder / "linked-dir").symlink_to(outside, target_is_directory=True)
    (folder / "alias.md").symlink_to(folder / "inside.md")  # inside the folder: fine
    spec = [parse_source_spec(f"dir:{folder}")]
    with ArticleStore.open(tmp_path / "data") as store:
        report = run_ingest(store, spec, FetchSettings(), IngestSettings(min_chars=20))
        # The linked directory is not walked at all; the linked file is recorded as refused.
        assert (report.failed, report.fetched, report.errors) == (1, 2, [])
        assert not [a for a in store.iter_articles() if "sk-do-not-leak" in a.text]
        kinds = store.ledger_summary()["failure_kinds"]
        assert kinds["outside_folder"]["count"] == 1


def test_status_json_keeps_the_contract_and_adds_the_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    warc = write_warc(
        tmp_path / "w.warc.gz",
        [*records(2), ("https://gone.example/x", "text/html", b"gone", 404)],
    )
    monkeypatch.setenv("LINKRAG_INDEX__EMBEDDER", "hash")
    assert main(["ingest", "--source", f"warc:{warc}"]) == 0
    capsys.readouterr()
    assert main(["status", "--json"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    status = json.loads(line)
    contract = {"articles", "chunks", "links", "fetch_failures", "index_version", "embedder"}
    assert contract | {"outcomes", "sites", "failure_kinds"} == set(status)
    assert status["articles"] == 2 and status["fetch_failures"] == 1
    assert status["outcomes"] == {"article": 2, "failed": 1}
    assert status["sites"]["gone.example"] == {"failed": 1}
    assert status["failure_kinds"]["http_404"]["example"] == "https://gone.example/x"
    assert main(["status"]) == 0
    text = capsys.readouterr().out
    assert main(["ingest", "--refresh", "--source", f"warc:{warc}"]) == 0
    assert "0 extracted" in capsys.readouterr().out  # same records: nothing re-extracted
    assert main(["ingest", "--reextract", "--source", f"warc:{warc}"]) == 0
    assert "2 extracted" in capsys.readouterr().out  # the 404 record is not extracted
    assert "outcomes: article 2, failed 1" in text and "http_404: 1, e.g. https://gone" in text
