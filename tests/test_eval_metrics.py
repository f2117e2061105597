"""`linkrag eval`: metric math on hand-made hits, QA file checks, the CLI's JSON and table."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from test_assistant_corpus import build_with_cli

from assistant.eval_metrics import (
    Outcome,
    article_ranking,
    group_metrics,
    percentile,
    summarize,
    url_key,
)
from assistant.evaluation import QAFileError, QAItem, evaluate, load_qa, select_split
from index import Chunk, Embedder, Hit, IndexSettings
from ui.cli import main

BLOB = "https://github.com/o/r/blob/main/%E6%96%87%E6%A1%A3.md"


def hit(url: str, rank: int) -> Hit:
    chunk = Chunk(f"c{rank}", 1, url, "t", "", "text", 0, 4)
    return Hit(chunk, 1.0 / rank, rank)


def fake_search(results: dict[str, list[str]]) -> object:
    def search(question: str, k: int) -> list[Hit]:
        return [hit(url, i) for i, url in enumerate(results.get(question, [])[:k], 1)]

    return search


def test_article_ranking_dedupes_chunks_and_compares_canonical_decoded_urls() -> None:
    urls = ["https://A.org/x#part", "https://a.org/x", "https://b.org/y?utm_source=z", BLOB]
    assert article_ranking(urls) == ["https://a.org/x", "https://b.org/y", url_key(BLOB)]
    raw = "https://raw.githubusercontent.com/o/r/main/文档.md"
    assert url_key(raw) == url_key(BLOB) == "https://github.com/o/r/blob/main/文档.md"


def test_recall_and_mrr_rank_articles_not_chunks() -> None:
    items = [
        QAItem("q1", ("https://g.org/1",), "zh_paraphrase", "tune"),
        QAItem("q2", ("https://g.org/2",), "en_cross", "tune"),
        QAItem("q3", ("https://g.org/3",), "en_cross", "heldout"),
        QAItem("q4", ("https://g.org/4",), "identifier", "heldout"),
    ]
    other = [f"https://o.org/{i}" for i in range(20)]
    results = {
        "q1": ["https://g.org/1", "https://g.org/1"],  # rank 1
        # two chunks of one article before the gold one: the gold article ranks 2nd, not 3rd
        "q2": [other[0], other[0], "https://g.org/2"],
        "q3": [*other[:6], "https://g.org/3"],  # rank 7: only in recall@10
        "q4": other,  # missed
    }
    report = evaluate(items, fake_search(results))  # type: ignore[arg-type]
    overall = report["all"]["all"]
    assert overall["questions"] == overall["answerable"] == 4
    assert overall["recall@1"] == 0.25
    assert overall["recall@5"] == 0.5
    assert overall["recall@10"] == 0.75
    assert overall["mrr@10"] == round((1 + 1 / 2 + 1 / 7) / 4, 4)
    assert report["tune"]["en_cross"]["mrr@10"] == 0.5
    assert report["heldout"]["identifier"]["recall@10"] == 0.0
    assert list(report) == ["tune", "heldout", "all"]
    assert list(report["all"]) == ["all", "zh_paraphrase", "en_cross", "identifier"]
    assert overall["abstained"] is None and overall["abstention_precision"] is None
    assert overall["latency_p50_ms"] is not None


def test_any_gold_url_counts_and_aliases_resolve() -> None:
    item = QAItem("q", ("https://g.org/alias", "https://g.org/other"), "en_cross")
    aliases = {"https://g.org/alias": "https://g.org/main"}
    report = evaluate(
        [item],
        fake_search({"q": ["https://x.org", "https://g.org/main"]}),  # type: ignore[arg-type]
        resolve=lambda url: aliases.get(url_key(url), url_key(url)),
    )
    assert report["all"]["all"]["recall@1"] == 0.0 and report["all"]["all"]["recall@5"] == 1.0


def test_abstention_precision_and_recall() -> None:
    outcomes = [
        Outcome("unanswerable", "", False, abstained=True),
        Outcome("unanswerable", "", False, abstained=True),
        Outcome("unanswerable", "", False, abstained=False),
        Outcome("en_cross", "", True, rank=1, abstained=True),  # a false abstention
        Outcome("en_cross", "", True, rank=2, abstained=False),
    ]
    metrics = group_metrics(outcomes)
    assert metrics["abstained"] == 3 and metrics["false_abstentions"] == 1
    assert metrics["abstention_precision"] == round(2 / 3, 4)
    assert metrics["abstention_recall"] == round(2 / 3, 4)
    assert metrics["recall@1"] == 0.5 and metrics["mrr@10"] == 0.75
    kinds = summarize(outcomes)["all"]
    assert kinds["unanswerable"]["recall@1"] is None  # nothing answerable to recall
    assert kinds["en_cross"]["abstention_precision"] == 0.0


def test_percentile_interpolates() -> None:
    assert percentile([], 50) is None
    assert percentile([10.0], 95) == 10.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([float(i) for i in range(1, 101)], 95) == pytest.approx(95.05)


def write_qa(path: Path, rows: Sequence[object]) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GOOD = {"id": "a", "question": "q?", "gold_urls": ["https://g.org/1"], "kind": "en_cross"}


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ("{not json", "not valid JSON"),
        ('["a list"]', "JSON object"),
        ({**GOOD, "id": "b", "question": " "}, "'question'"),
        ({**GOOD, "id": "b", "gold_urls": "https://g.org/1"}, "'gold_urls'"),
        ({**GOOD, "id": "b", "kind": "chitchat"}, "'kind'"),
        ({**GOOD, "id": "b", "kind": "unanswerable"}, "empty exactly when"),
        ({**GOOD, "id": "b", "split": "train"}, "'split'"),
        ({**GOOD, "id": "b", "gold_urls": ["not a url"]}, "not a URL"),
        (GOOD, "duplicate id 'a'"),
    ],
)
def test_bad_qa_line_is_named(tmp_path: Path, bad: object, needle: str) -> None:
    path = write_qa(tmp_path / "qa.jsonl", [GOOD, "", bad])
    with pytest.raises(QAFileError, match=r"qa\.jsonl:3: ") as caught:
        load_qa(path)
    assert needle in str(caught.value) and "\n" not in str(caught.value)


def test_load_qa_reads_the_dev_schema_and_splits(tmp_path: Path) -> None:
    rows = [
        {**GOOD, "split": "tune", "answer": "x"},
        {"id": "u", "question": "天气?", "gold_urls": [], "kind": "unanswerable"}
        | {"split": "heldout"},
    ]
    items = load_qa(write_qa(tmp_path / "qa.jsonl", rows))
    assert [(i.id, i.kind, i.split, i.line, i.answerable) for i in items] == [
        ("a", "en_cross", "tune", 1, True),
        ("u", "unanswerable", "heldout", 2, False),
    ]
    assert [i.id for i in select_split(items, "heldout")] == ["u"]
    assert len(select_split(items, "all")) == 2
    with pytest.raises(QAFileError, match="no questions"):
        load_qa(write_qa(tmp_path / "empty.jsonl", [""]))


def test_cli_bad_qa_line_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_qa(tmp_path / "qa.jsonl", [GOOD, {**GOOD, "id": "b", "kind": "nope"}])
    assert main(["eval", str(path), "--json"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert captured.out == "" and len(lines) == 1
    assert lines[0].startswith("linkrag: error:") and "qa.jsonl:2:" in lines[0]


# The CLI over a tiny built index


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, use: Embedder) -> Path:
    root = tmp_path_factory.mktemp("eval")
    build_with_cli(root)
    return root


@pytest.fixture
def qa(built: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LINKRAG_DATA", str(built / "data"))
    docs = built / "docs"
    uri = {p.stem: p.resolve().as_uri() for p in docs.iterdir()}
    rows = [
        {
            "id": "z",
            "question": "ZeRO-3 怎么把参数分到各张卡上？",
            "gold_urls": [uri["zero"]],
            "kind": "zh_paraphrase",
            "split": "tune",
        },
        {
            "id": "p",
            "question": "Why does PagedAttention waste less KV cache memory?",
            "gold_urls": [uri["paged-attention"]],
            "kind": "en_cross",
            "split": "heldout",
        },
        {
            "id": "u",
            "question": "Who won the 1998 football world cup?",
            "gold_urls": [],
            "kind": "unanswerable",
            "split": "heldout",
        },
    ]
    return write_qa(built / "qa.jsonl", rows)


METRIC_KEYS = {
    "questions",
    "answerable",
    "unanswerable",
    "recall@1",
    "recall@5",
    "recall@10",
    "mrr@10",
    "abstained",
    "false_abstentions",
    "abstention_precision",
    "abstention_recall",
    "latency_p50_ms",
    "latency_p95_ms",
}


def test_cli_eval_json_nests_metrics_by_split_then_kind(
    qa: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", str(qa), "--json"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    result = json.loads(line)
    assert result["mode"] == "hybrid" and result["unknown_gold_urls"] == []
    metrics = result["metrics"]
    assert list(metrics) == ["tune", "heldout", "all"]
    assert list(metrics["heldout"]) == ["all", "en_cross", "unanswerable"]
    assert all(set(m) == METRIC_KEYS for kinds in metrics.values() for m in kinds.values())
    overall = metrics["all"]["all"]
    assert overall["questions"] == 3 and overall["answerable"] == 2
    assert overall["recall@5"] == 1.0 and overall["mrr@10"] > 0.5
    assert metrics["all"]["unanswerable"]["abstention_recall"] == 1.0
    assert overall["false_abstentions"] == 0
    assert 0 < overall["latency_p50_ms"] <= overall["latency_p95_ms"]


@pytest.mark.parametrize("mode", ["dense", "lexical"])
def test_cli_eval_single_mode_and_split_table(
    qa: Path, mode: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", str(qa), "--mode", mode, "--split", "tune", "-k", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"mode {mode}" in lines[0] and "1 questions" in lines[0]
    assert lines[1].split()[:4] == ["split", "kind", "n", "ans"]
    rows = [line.split() for line in lines[2:]]
    assert [row[:2] for row in rows] == [
        ["tune", "all"],
        ["tune", "zh_paraphrase"],
        ["all", "all"],
        ["all", "zh_paraphrase"],
    ]
    assert len({len(line) for line in lines[1:]}) <= 2  # aligned columns


def test_search_modes_rank_by_one_retriever(built: Path, use: Embedder) -> None:
    from index import SearchIndex

    index = SearchIndex.load(built / "data", IndexSettings(), embedder=use)
    query = "CUDA_VISIBLE_DEVICES ZeRO-3"
    lexical = index.search(query, 5, mode="lexical")
    assert lexical and all(h.lexical > 0 for h in lexical)
    dense = index.search(query, 5, mode="dense")
    sims = [h.dense for h in dense]
    assert sims == sorted(sims, reverse=True)
    assert [h.chunk.chunk_id for h in index.search(query, 5)] == [
        h.chunk.chunk_id for h in index.search(query, 5, mode="hybrid")
    ]
    with pytest.raises(ValueError, match="mode"):
        index.search(query, 5, mode="sparse")  # type: ignore[arg-type]
