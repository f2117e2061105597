"""The dev eval set (eval/dev.jsonl): schema, counts, canonical gold URLs, and the manifest."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

REPO = Path(__file__).resolve().parents[1]
DEV = REPO / "eval" / "dev.jsonl"
MANIFEST = Path(__file__).resolve().parents[2] / "shared/corpus/manifest.jsonl"

KINDS = {"zh_paraphrase", "en_cross", "identifier", "unanswerable"}
SPLITS = {"tune", "heldout"}
MIN_PER_KIND = {"zh_paraphrase": 40, "en_cross": 20, "identifier": 15, "unanswerable": 18}
FIELDS = {"id", "question", "gold_urls", "kind", "split", "answer"}
CANONICAL = re.compile(r"^https://github\.com/[^/\s]+/[^/\s]+/blob/[^/\s]+/\S+$")
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def records() -> list[dict]:
    lines = DEV.read_text(encoding="utf-8").splitlines()
    assert all(line.strip() for line in lines), "blank line in dev.jsonl"
    return [json.loads(line) for line in lines]


def test_schema(records: list[dict]) -> None:
    for r in records:
        assert set(r) == FIELDS, r.get("id")
        assert re.fullmatch(r"q\d{3}", r["id"]), r["id"]
        assert isinstance(r["question"], str) and r["question"].strip(), r["id"]
        assert isinstance(r["answer"], str), r["id"]
        assert isinstance(r["gold_urls"], list), r["id"]
        assert all(isinstance(u, str) for u in r["gold_urls"]), r["id"]
        assert r["kind"] in KINDS, r["id"]
        assert r["split"] in SPLITS, r["id"]


def test_counts_per_kind(records: list[dict]) -> None:
    assert len(records) >= 100
    kinds = Counter(r["kind"] for r in records)
    for kind, minimum in MIN_PER_KIND.items():
        assert kinds[kind] >= minimum, (kind, kinds[kind])


def test_splits_balanced_per_kind(records: list[dict]) -> None:
    for kind in KINDS:
        splits = Counter(r["split"] for r in records if r["kind"] == kind)
        assert abs(splits["tune"] - splits["heldout"]) <= 1, (kind, splits)


def test_ids_and_questions_unique(records: list[dict]) -> None:
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids))
    questions = [r["question"].strip().casefold() for r in records]
    assert len(questions) == len(set(questions))


def test_gold_urls_canonical(records: list[dict]) -> None:
    for r in records:
        assert len(r["gold_urls"]) == len(set(r["gold_urls"])), r["id"]
        for url in r["gold_urls"]:
            assert CANONICAL.match(url), (r["id"], url)
            assert " " not in url and "#" not in url and "?" not in url, (r["id"], url)


def test_unanswerable_have_no_gold(records: list[dict]) -> None:
    for r in records:
        if r["kind"] == "unanswerable":
            assert r["gold_urls"] == [] and r["answer"] == "", r["id"]
        else:
            assert r["gold_urls"], r["id"]
            assert r["answer"].strip(), r["id"]


def test_languages_match_kind(records: list[dict]) -> None:
    for r in records:
        if r["kind"] == "zh_paraphrase":
            assert CJK.search(r["question"]), r["id"]
        elif r["kind"] == "en_cross":
            assert not CJK.search(r["question"]), r["id"]


def test_each_article_used_at_most_twice(records: list[dict]) -> None:
    uses = Counter(u for r in records for u in r["gold_urls"])
    assert max(uses.values()) <= 2, uses.most_common(3)


def _path(url: str) -> str:
    return unquote(urlsplit(url).path)


def test_gold_urls_in_manifest(records: list[dict]) -> None:
    if not MANIFEST.is_file():
        pytest.skip(f"no shared corpus manifest at {MANIFEST}")
    known = set()
    for line in MANIFEST.read_text(encoding="utf-8").splitlines():
        if line.strip():
            known.add(_path(json.loads(line)["url"]))
    missing = [(r["id"], url) for r in records for url in r["gold_urls"] if _path(url) not in known]
    assert not missing, missing
