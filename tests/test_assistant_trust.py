"""Answers users can trust: abstention before generation, follow-ups, language notice.

Real USE, FAISS and BM25 over the small bilingual corpus; the LLM is the loopback fake
OpenAI server of test_assistant_llm, answering condense requests with a rewrite.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from conftest import Route
from test_assistant_llm import PATH, FakeOpenAI, Start, _completion, _error

from assistant import Answer, AnswerSettings, AppConfig, Assistant
from assistant.abstention import (
    CorpusNames,
    missing_terms,
    named_terms,
    retrievers_agree,
    signals,
)
from assistant.answerers import has_evidence
from assistant.config import AbstentionSettings, LLMSettings
from assistant.followup import expand, is_follow_up
from assistant.prompts import NEAREST_HEADING, NO_ANSWER, ZH_SOURCES_NOTICE
from index import Chunk, Hit

ZERO_TURN = [
    {"role": "user", "content": "ZeRO-3 怎么切分参数？"},
    {"role": "assistant", "content": "ZeRO-3 会把模型参数切分到所有 GPU 上[1]。"},
]
PAGED_TURN = [
    {"role": "user", "content": "What does PagedAttention solve?"},
    {"role": "assistant", "content": "Memory fragmentation [1]."},
]


def test_an_answerable_question_answers(assistant: Assistant) -> None:
    answer = assistant.ask("LoRA 训练时更新哪些参数？")
    assert not answer.abstained and answer.citations and answer.notice == ""


@pytest.mark.parametrize(
    "question",
    [
        "How do I configure KServe autoscaling for LLM serving?",  # a name no article has
        "谁赢得了1998年世界杯？",  # nothing similar at all
    ],
)
def test_an_uncovered_question_abstains_and_lists_the_nearest_articles(
    assistant: Assistant, question: str
) -> None:
    answer = assistant.ask(question)
    assert answer.abstained and answer.citations == []
    language = "zh" if "世界杯" in question else "en"
    assert answer.text.startswith(NO_ANSWER[language])
    assert NEAREST_HEADING[language] in answer.text
    nearest = answer.passages[0].chunk
    assert f"{nearest.title} · {nearest.topic} <{nearest.url}>" in answer.text


def test_named_terms_skip_sentence_starts_and_plain_words() -> None:
    assert named_terms("How do I convert a PyTorch model to Core ML for an iPhone?") == [
        "PyTorch", "Core", "ML", "iPhone"
    ]  # fmt: skip
    assert named_terms("Mamba 的并行扫描在设置 `HCCL_CONNECT_TIMEOUT` 以后怎么样") == [
        "Mamba", "HCCL_CONNECT_TIMEOUT"
    ]  # fmt: skip
    assert named_terms("Besides long-context tricks, what else?") == []
    # Shapes are no names: "16x64" once gave "x64", which no passage spells alone.
    assert named_terms("用 WMMA 读 16x64 半精度矩阵里的 16x16 小块") == ["WMMA"]


def _hit(text: str, article: int, dense: float, lexical: float, rank: int = 1) -> Hit:
    chunk = Chunk(f"c{article}-{rank}", article, f"https://e.org/{article}", "T", "", text, 0, 9)
    return Hit(chunk, 1 / (60 + rank), rank, dense, lexical)


def test_missing_terms_tolerate_spacing_and_compounds() -> None:
    hits = [_hit("在 Llama 3 上测试 multi GPU 训练，GPU 数量为 8。", 1, 0.5, 3.0)]
    assert missing_terms("在 Llama3 上能快多少？", hits) == []
    assert missing_terms("How does multi-GPU training scale?", hits) == []
    assert missing_terms("KTO 和 DPO 有什么不同？", hits) == ["KTO", "DPO"]


def test_an_articles_address_counts_as_naming_its_subject() -> None:
    # The article lives under megatron-deepspeed/microsoft/ and under sglang/, but its
    # text never says "Microsoft" or "SGLang"; the address is part of what it is about.
    chunk = Chunk("c1", 1, "https://github.com/o/r/blob/main/microsoft/sglang/args.md",
                  "args", "", "git_ds_info() 与 --schedule-policy 的说明。", 0, 9)  # fmt: skip
    hits = [Hit(chunk, 1 / 61, 1, 0.2, 5.0)]
    assert missing_terms("In Microsoft's fork, what does git_ds_info() do?", hits) == []
    assert missing_terms("What does KServe's git_ds_info() do?", hits) == ["KServe"]
    # jargon found in the passage or its address rescues a cosine of half the threshold
    assert has_evidence("SGLang 的 `--schedule-policy` 有哪些取值？", hits, 0.3)
    assert not has_evidence("vLLM 的 `--schedule-policy` 有哪些取值？", hits, 0.3)


def test_retrievers_agree_when_both_rank_the_top_article_best() -> None:
    agree = [_hit("a", 1, 0.6, 9.0), _hit("b", 2, 0.5, 4.0, 2), _hit("c", 3, 0.4, 2.0, 3)]
    assert retrievers_agree(agree, 2)
    lexical_only = [_hit("a", 1, 0.2, 9.0), _hit("b", 2, 0.5, 0.0, 2), _hit("c", 3, 0.4, 0, 3)]
    assert not retrievers_agree(lexical_only, 2)


def test_low_cross_lingual_cosine_is_not_weak_when_the_passages_name_the_subject() -> None:
    # "What does PagedAttention solve?" over Chinese articles: cosines ~0.2, BM25 and dense
    # disagree, yet every passage talks about PagedAttention. It used to abstain.
    hits = [_hit("PagedAttention 把 KV cache 分块管理，减少显存碎片。", 1, 0.2, 7.8)]
    hits += [_hit("vLLM 的 PagedAttention 实现", 2, 0.25, 8.4, 2)]
    hits += [_hit("PagedAttention 与调度器", 3, 0.3, 9.0, 3)]
    assert not retrievers_agree(hits, 2)
    settings = AbstentionSettings()
    assert not signals("What does PagedAttention solve?", hits, 0.1, settings).abstain
    assert signals("How does the scheduler work?", hits, 0.1, settings).abstain  # no name
    assert signals("What does KServe solve?", hits, 0.1, settings).abstain  # name missing


def test_corpus_scope_counts_only_names_no_article_has() -> None:
    hits = [_hit("张量并行把矩阵按列切分。", 1, 0.5, 3.0)]
    corpus = CorpusNames(lambda: "megatron-lm 的张量并行\nllama 3 训练".lower())
    scoped = AbstentionSettings(named_terms_scope="corpus")
    assert signals("Megatron-LM 怎么切分？", hits, 0.1, scoped, corpus).missing == ()
    assert signals("Llama3 怎么切分？", hits, 0.1, scoped, corpus).missing == ()
    assert signals("KServe 怎么切分？", hits, 0.1, scoped, corpus).missing == ("KServe",)
    passages = AbstentionSettings(named_terms_scope="passages")
    assert signals("Megatron-LM 怎么切分？", hits, 0.1, passages, corpus).missing


@pytest.mark.parametrize(
    ("question", "history", "follow_up"),
    [
        ("它的通信开销呢？", ZERO_TURN, True),
        ("这种方法的缺点是什么？", ZERO_TURN, True),
        ("为什么？", ZERO_TURN, True),
        ("那 ZeRO-2 呢？", ZERO_TURN, True),
        ("LoRA 是什么？", ZERO_TURN, False),  # short, but names its own subject
        ("应该怎么配置 DeepSpeed 的 stage 字段？", ZERO_TURN, False),  # 应该 is not 该
        ("它的通信开销呢？", [], False),  # nothing to refer back to
        ("Why is that?", PAGED_TURN, True),
        ("and vLLM?", PAGED_TURN, True),
        ("What about its memory cost?", PAGED_TURN, True),
        ("How does FlashAttention tile queries?", PAGED_TURN, False),
    ],
)
def test_follow_up_detection(question: str, history: list[dict[str, str]], follow_up: bool) -> None:
    assert is_follow_up(question, history) is follow_up


def test_a_chain_of_follow_ups_keeps_its_subject() -> None:
    history = [*ZERO_TURN, {"role": "user", "content": "它的通信开销呢？"}]
    assert expand("为什么？", history) == "ZeRO-3 怎么切分参数？ 它的通信开销呢？ 为什么？"
    assert expand("Why is that?", PAGED_TURN) == "What does PagedAttention solve? Why is that?"


def test_ask_retrieves_a_follow_up_with_its_expansion(assistant: Assistant) -> None:
    answer = assistant.ask("它的通信开销呢？", history=ZERO_TURN)
    assert answer.rewritten_query == "ZeRO-3 怎么切分参数？ 它的通信开销呢？"
    assert answer.passages[0].chunk.url == "https://github.com/example/notes/blob/main/zero.md"
    assert not answer.abstained
    assert assistant.ask("LoRA 训练时更新哪些参数？", history=ZERO_TURN).rewritten_query is None


def test_an_english_question_over_chinese_articles_says_so(assistant: Assistant) -> None:
    answer = assistant.ask("How does ZeRO-3 partition the model parameters?")
    assert not answer.abstained and answer.citations
    assert answer.notice == ZH_SOURCES_NOTICE and answer.text.startswith(ZH_SOURCES_NOTICE)
    assert all("ZeRO" in c.title for c in answer.citations)


@dataclass
class CondensingOpenAI(FakeOpenAI):
    """Answers condense requests with `rewrite`, everything else with `reply`."""

    rewrite: str = "ZeRO-3 的通信开销有多大？"
    condense_status: int = 200

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = json.loads(request.rfile.read(length))
        if "standalone question" not in body["messages"][0]["content"]:
            self.bodies.append(body)
            data = _completion(self.reply, body["model"])
            return self._send(request, 200, "application/json", data)
        self.bodies.append(body | {"condense": True})
        if self.condense_status != 200:
            data = _error(self.condense_status)
            return self._send(request, self.condense_status, "application/json", data)
        return self._send(request, 200, "application/json", _completion(self.rewrite, "m"))


def _llm_assistant(data_dir: Path, loopback_server: Start, fake: CondensingOpenAI) -> Assistant:
    url = loopback_server({PATH: Route(handler=fake.handle)}).url("/v1")
    llm = LLMSettings(base_url=url, model="fake-chat", max_retries=0)
    return Assistant(AppConfig(data_dir=data_dir, answer=AnswerSettings(mode="openai", llm=llm)))


def test_the_llm_condenses_a_follow_up(data_dir: Path, loopback_server: Start) -> None:
    fake = CondensingOpenAI("ZeRO-3 通过 all-gather 临时收集完整参数[1]。")
    answer = _llm_assistant(data_dir, loopback_server, fake).ask("它的通信开销呢？", ZERO_TURN)
    condense, asked = fake.bodies
    assert condense.get("condense") and "ZeRO-3 怎么切分参数？" in json.dumps(
        condense["messages"], ensure_ascii=False
    )
    assert answer.rewritten_query == "ZeRO-3 的通信开销有多大？"
    assert "ZeRO-3 的通信开销有多大？" in asked["messages"][-1]["content"]
    assert isinstance(answer, Answer) and answer.citations and not answer.abstained


def test_a_failing_condense_falls_back_to_the_rule(data_dir: Path, loopback_server: Start) -> None:
    fake = CondensingOpenAI("ZeRO-3 通过 all-gather 临时收集完整参数[1]。", condense_status=500)
    answer = _llm_assistant(data_dir, loopback_server, fake).ask("它的通信开销呢？", ZERO_TURN)
    assert answer.rewritten_query == "ZeRO-3 怎么切分参数？ 它的通信开销呢？"
    assert not answer.abstained and answer.citations


def test_abstention_never_calls_the_model(data_dir: Path, loopback_server: Start) -> None:
    fake = CondensingOpenAI()
    answer = _llm_assistant(data_dir, loopback_server, fake).ask(
        "How do I configure KServe autoscaling for LLM serving?"
    )
    assert answer.abstained and fake.bodies == []


def test_articles_scope_finds_a_name_elsewhere_in_a_retrieved_article() -> None:
    # The passage is a window on its article; the article names Llama3 further down.
    hits = [_hit("异步张量并行把通信和矩阵乘拆开重叠执行。", 1, 0.5, 3.0)]
    articles = {1: "异步张量并行把通信和矩阵乘拆开重叠执行。\n在 llama3 8b 上前向快 29%。"}
    names = CorpusNames(lambda: "unused", articles.__getitem__)
    scoped = AbstentionSettings()  # the default scope is "articles"
    assert scoped.named_terms_scope == "articles"
    assert signals("在 Llama3 上能快多少？", hits, 0.1, scoped, names).missing == ()
    assert signals("在 KServe 上能快多少？", hits, 0.1, scoped, names).missing == ("KServe",)
    passages = AbstentionSettings(named_terms_scope="passages")
    assert signals("在 Llama3 上能快多少？", hits, 0.1, passages, names).missing == ("Llama3",)


def test_the_index_gives_an_articles_whole_text(assistant: Assistant) -> None:
    index = assistant.index
    hit = assistant.search("ZeRO-3 怎么切分参数？", k=1)[0]
    text = index.article_text(hit.chunk.article_id)  # type: ignore[union-attr]
    assert hit.chunk.text.lower() in text and text == text.lower()
    assert index.article_text(-1) == ""  # type: ignore[union-attr]


def test_a_name_only_in_a_low_ranked_hit_still_abstains() -> None:
    # Five passages about parallel scans; the sixth mentions Mamba in passing.
    hits = [_hit(f"并行扫描的第 {n} 种实现", n, 0.5, 3.0, n) for n in range(1, 6)]
    hits.append(_hit("顺带一提，Mamba 也用到了扫描。", 6, 0.3, 1.0, 6))
    assert signals("Mamba 的并行扫描怎么实现？", hits, 0.1, AbstentionSettings()).missing == (
        "Mamba",
    )
    deep = AbstentionSettings(named_terms_depth=6)
    assert signals("Mamba 的并行扫描怎么实现？", hits, 0.1, deep).missing == ()
