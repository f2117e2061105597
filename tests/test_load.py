"""Load and soak in the small: many threads on one Assistant, flat memory, rebuild while querying.

The figures at scale (50 callers on the whole archive, 20 gradio_client users, 10,000
queries) come from benchmarks/load.py and benchmarks/soak.py; these tests prove the same
properties on the fixture corpus, fast enough for the default tier.
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from test_assistant_corpus import ARTICLES, build_corpus_index

from assistant import Answer, AppConfig, Assistant
from index import Embedder, Hit
from index.store import current_folder, read_chunks

QUESTIONS = [
    "What does PagedAttention solve?",
    "ZeRO-3 怎么切分参数？",
    "FlashAttention SRAM tiles",
    "LoRA 的秩 r 通常取多少？",
    "QLoRA 把基座模型量化到几比特？",
    "Who won the football world cup in 1998?",
]
Pairs = frozenset[tuple[str, str]]  # (chunk id, chunk text) of every passage in one result


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, use: Embedder) -> Path:
    folder = tmp_path_factory.mktemp("load") / "data"
    build_corpus_index(folder, use)
    return folder


def _passages(result: list[Hit] | Answer) -> Pairs:
    hits = result.passages if isinstance(result, Answer) else result
    return frozenset((hit.chunk.chunk_id, hit.chunk.text) for hit in hits)


def _signature(result: list[Hit] | Answer) -> tuple[object, ...]:
    """What must not change when the same question is asked from many threads."""
    if isinstance(result, Answer):
        return (result.text, result.abstained, tuple(c.chunk_id for c in result.citations))
    return tuple((hit.chunk.chunk_id, hit.rank) for hit in result)


def _run_threads(count: int, work: Callable[[int], None]) -> None:
    threads = [threading.Thread(target=work, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a caller thread hung"


def test_fifty_threads_on_one_assistant_get_the_sequential_results(data_dir: Path) -> None:
    assistant = Assistant(AppConfig(data_dir=data_dir))
    calls = {
        "search": lambda q: _signature(assistant.search(q, k=4)),
        "ask": lambda q: _signature(assistant.ask(q)),
    }
    expected = {(kind, q): call(q) for q in QUESTIONS for kind, call in calls.items()}
    errors: list[BaseException] = []
    got: dict[tuple[int, str, str], tuple[object, ...]] = {}

    def caller(n: int) -> None:  # every fifth caller asks (an ask costs about five searches)
        kind, question = ("ask" if n % 5 == 4 else "search"), QUESTIONS[n % len(QUESTIONS)]
        try:
            got[n, kind, question] = calls[kind](question)
        except Exception as exc:  # collected: the assertion below names it
            errors.append(exc)

    _run_threads(50, caller)
    assert errors == []
    assert len(got) == 50
    assert all(value == expected[kind, q] for (_, kind, q), value in got.items())


def _rss_kb() -> int:
    status = Path("/proc/self/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1])


def test_memory_and_file_descriptors_stay_flat_over_repeated_queries(data_dir: Path) -> None:
    assistant = Assistant(AppConfig(data_dir=data_dir))

    def queries(count: int) -> None:
        for n in range(count):
            question = QUESTIONS[n % len(QUESTIONS)]
            # Mostly searches: an ask costs about five, and the test must stay fast.
            result = assistant.ask(question) if n % 20 == 19 else assistant.search(question, k=3)
            assert result is not None

    queries(30)  # warm-up: models, chains and allocator pools reach their size
    gc.collect()
    rss, fds = _rss_kb(), len(os.listdir("/proc/self/fd"))
    queries(200)
    gc.collect()
    grown_kb = _rss_kb() - rss
    # A leak of 50 KB per query would show as 10 MB here; noise is well under that.
    assert grown_kb < 10_000, f"RSS grew {grown_kb} KB over 200 queries"
    assert len(os.listdir("/proc/self/fd")) == fds


def _write_docs(folder: Path, count: int, revision: str) -> None:
    """ARTICLES[:count] as .md files; `revision` appended to each changes its last chunk."""
    folder.mkdir(exist_ok=True)
    for article in ARTICLES[:count]:
        name = article.url.rsplit("/", 1)[-1].removesuffix(".md")
        (folder / f"{name}.md").write_text(article.text + revision, encoding="utf-8")


def _live_pairs(data_dir: Path) -> Pairs:
    return frozenset((c.chunk_id, c.text) for c in read_chunks(current_folder(data_dir)))


def test_queries_during_a_rebuild_see_one_version_then_the_new_one(
    tmp_path: Path, use: Embedder
) -> None:
    docs = tmp_path / "docs"
    _write_docs(docs, 4, "")
    assistant = Assistant(AppConfig(data_dir=tmp_path / "data", sources=[f"dir:{docs}"]))
    assistant.rebuild()
    old = _live_pairs(assistant.data_dir)
    assert not assistant.search("sourdough loaf oven steam", k=1)[0].chunk.text.count("loaf")
    _write_docs(docs, 5, "\nRevision two of this note adds a closing remark.\n")  # + bread
    seen: dict[int, list[tuple[bool, Pairs]]] = {n: [] for n in range(4)}
    errors: list[BaseException] = []
    rebuilt = threading.Event()

    def rebuild() -> None:
        try:
            assistant.rebuild()
        finally:
            rebuilt.set()

    def query(n: int) -> None:
        after = 0  # keep querying a little past the swap
        while after < 3:
            during = not rebuilt.is_set()
            question = QUESTIONS[(n + after) % len(QUESTIONS)]
            try:
                result = assistant.ask(question) if n == 3 else assistant.search(question, k=4)
            except Exception as exc:
                errors.append(exc)
                return
            seen[n].append((during and not rebuilt.is_set(), _passages(result)))
            after += rebuilt.is_set()

    builder = threading.Thread(target=rebuild)
    builder.start()
    _run_threads(4, query)
    builder.join()
    new = _live_pairs(assistant.data_dir)
    assert errors == []
    assert old - new and new - old  # every article changed, so a torn read would show
    assert sum(during for results in seen.values() for during, _ in results) > 0
    assert_whole_versions(seen, old, new)
    assert assistant.search("sourdough loaf oven steam", k=1)[0].chunk.title.startswith("Baking")


def assert_whole_versions(
    seen: dict[int, list[tuple[bool, Pairs]]], old: Pairs, new: Pairs
) -> None:
    """Each caller saw whole versions only, old then new, and ended on the new one."""
    for results in seen.values():
        versions = [_version(pairs, old, new) for _, pairs in results]
        assert None not in versions, "a result mixed passages of two index versions"
        first_new = versions.index("new") if "new" in versions else len(versions)
        assert "old" not in versions[first_new:], "a caller went back to the old index"
        assert versions[-1] != "old", "the new version was not swapped in"


def _version(pairs: Pairs, old: Pairs, new: Pairs) -> str | None:
    """Which index version a result's passages come from ("both" when it cannot tell)."""
    if pairs <= old and pairs <= new:
        return "both"
    return "old" if pairs <= old else "new" if pairs <= new else None
