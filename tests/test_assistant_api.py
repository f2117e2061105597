"""The Assistant API over a real store and a real index (USE embedder, FAISS, BM25)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from conftest import fill_store
from test_assistant_corpus import ARTICLES, BY_URL

from assistant import Answer, AppConfig, Assistant
from assistant.assistant import condense_question
from assistant.citations import verify_citation
from assistant.prompts import NO_ANSWER
from index import (
    Embedder,
    IndexNotFoundError,
    SearchIndex,
)
from ingest import ArticleStore


def test_search_ranks_the_relevant_article_first(assistant: Assistant) -> None:
    hits = assistant.search("ZeRO-3 怎么切分参数？", k=3)
    assert hits[0].chunk.url == "https://github.com/example/notes/blob/main/zero.md"
    assert [h.rank for h in hits] == [1, 2, 3]
    assert assistant.search("   ") == []


def test_ask_cites_real_urls_with_quotes_verbatim_at_their_offsets(
    assistant: Assistant, data_dir: Path
) -> None:
    answer = assistant.ask("What does PagedAttention solve?")
    assert not answer.abstained and answer.citations
    assert "memory fragmentation of the KV cache" in answer.text
    chunks = {hit.chunk.chunk_id: hit.chunk for hit in answer.passages}
    with ArticleStore.open(data_dir) as store:
        for citation in answer.citations:
            chunk = chunks[citation.chunk_id]
            article = store.get_article(chunk.article_id)
            assert article is not None and citation.url in BY_URL
            assert verify_citation(citation, chunk, article_text=article.text)


def test_off_topic_question_abstains(assistant: Assistant) -> None:
    answer = assistant.ask("Who won the football world cup in 1998?")
    assert answer.abstained and not answer.citations
    assert answer.text.startswith(NO_ANSWER["en"])


def test_overlong_questions_are_refused_with_the_limit(assistant: Assistant) -> None:
    limit = assistant.config.answer.max_question_chars
    answer = assistant.ask("张量并行" * limit)
    assert answer.abstained and not answer.citations
    assert f"上限 {limit}" in answer.text and "answer.max_question_chars" in answer.text
    assert next(e for e in assistant.stream("x " * limit) if isinstance(e, Answer)).abstained
    with pytest.raises(ValueError, match=r"query too long .*answer\.max_question_chars"):
        assistant.search("ZeRO " * limit)


def test_stream_yields_deltas_then_the_final_answer(assistant: Assistant) -> None:
    events = list(assistant.stream("LoRA 训练时更新哪些参数？", history=[]))
    final = events[-1]
    assert isinstance(final, Answer) and not final.abstained
    deltas = [e for e in events[:-1] if isinstance(e, str)]
    assert len(deltas) == len(events) - 1 >= 1
    assert "".join(deltas) == final.text


def test_missing_index_raises_a_helpful_error(tmp_path: Path) -> None:
    fresh = Assistant(AppConfig(data_dir=tmp_path / "empty"))
    assert not fresh.has_index()
    with pytest.raises(IndexNotFoundError, match="linkrag build"):
        fresh.ask("What is LoRA?")


def test_lazy_loading_happens_once_under_concurrency(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[str] = []
    real_load = SearchIndex.load

    def counting_load(*args: object, **kwargs: object) -> SearchIndex:
        loads.append("load")
        return real_load(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(SearchIndex, "load", counting_load)
    assistant = Assistant(AppConfig(data_dir=data_dir))
    results: list[str] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(assistant.search("FlashAttention SRAM", k=1)[0].chunk.url)
        )
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert loads == ["load"]
    assert results == ["https://example.org/flash-attention"] * 6


def test_reindex_hot_swaps_the_live_index(tmp_path: Path, use: Embedder) -> None:
    folder = tmp_path / "swap"
    fill_store(folder, ARTICLES[:2])
    assistant = Assistant(AppConfig(data_dir=folder))
    assistant.reindex()
    before = assistant.status()["index_version"]
    assert (
        assistant.search("sourdough loaf oven steam", k=1)[0].chunk.url
        != BY_URL["https://example.org/bread"].url
    )
    fill_store(folder, [ARTICLES[4]])
    assistant.reindex()
    assert assistant.status()["index_version"] != before
    assert assistant.search("sourdough loaf oven steam", k=1)[0].chunk.url == (
        "https://example.org/bread"
    )


def test_status_follows_the_contract(assistant: Assistant) -> None:
    status = assistant.status()
    assert set(status) == {
        "articles",
        "chunks",
        "links",
        "fetch_failures",
        "index_version",
        "embedder",
    }
    assert status["articles"] == len(ARTICLES) and status["chunks"] >= len(ARTICLES)
    assert status["embedder"] == "use-m3" and isinstance(status["index_version"], str)


def test_follow_up_borrows_the_previous_question_for_retrieval() -> None:
    history = [
        {"role": "user", "content": "What does PagedAttention solve?"},
        {"role": "assistant", "content": "It avoids fragmentation [1]"},
    ]
    assert condense_question("and vLLM?", history) == "What does PagedAttention solve? and vLLM?"
    assert condense_question("How does FlashAttention tile queries?", history) == (
        "How does FlashAttention tile queries?"
    )
