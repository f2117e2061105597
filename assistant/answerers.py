"""The extractive answerer: the best sentences of the top passages, each one cited.

It cannot hallucinate: every sentence of an answer is a verbatim span of an indexed
article, so its citation quote is exactly what the answer says. Candidates come from
`assistant.sentences`, and `assistant.selection` scores which of them answer.
"""

from __future__ import annotations

import logging
import re
from typing import Any, NotRequired, TypedDict

import numpy as np
from langchain_core.runnables import Runnable, RunnableConfig

from assistant.citations import text_fragment
from assistant.config import AnswerSettings
from assistant.prompts import question_language, reply
from assistant.selection import Choice, Question, choose, question_terms
from assistant.sentences import Sentence, candidate_sentences, command_lines, sentence_spans
from assistant.types import Answer, Citation
from index import Embedder, Glossary, Hit, embed_text

logger = logging.getLogger(__name__)

# Identifier-like terms (PagedAttention, LoRA, ZeRO-3, CUDA_VISIBLE_DEVICES): rare jargon
# whose presence in a passage is strong evidence even when embeddings disagree.
_JARGON = re.compile(r"\b[A-Za-z][A-Za-z0-9]*(?:[-_.][A-Za-z0-9]+)*\b")
# A passage holding the question's jargon or most of its terms verbatim is evidence even
# below the dense threshold: USE scores rare jargon ("PagedAttention") low, and English
# questions low against Chinese passages.
_RESCUE_SIMILARITY = 0.5  # share of answer.min_similarity still acceptable then
_RESCUE_TERMS = 2 / 3


__all__ = [
    "AnswerInput",
    "ExtractiveAnswerer",
    "Sentence",
    "candidate_sentences",
    "has_evidence",
    "jargon_terms",
    "question_terms",
    "sentence_spans",
]


class AnswerInput(TypedDict):
    """What the answerer receives from the chain."""

    question: str
    hits: list[Hit]
    query_vector: NotRequired[np.ndarray]


def _overlap(terms: set[str], sentence: str) -> float:
    if not terms:
        return 0.0
    lowered = sentence.lower()
    return sum(1 for term in terms if term in lowered) / len(terms)


def jargon_terms(question: str) -> set[str]:
    """Identifier-like words: inner capitals, several capitals, digits, '-' or '_'."""
    found = set()
    for word in _JARGON.findall(question):
        capitals = sum(ch.isupper() for ch in word)
        if capitals >= 2 or any(ch.isdigit() or ch in "-_" for ch in word):
            found.add(word.lower())
    return found


def has_evidence(question: str, hits: list[Hit], min_similarity: float) -> bool:
    """Whether a hit reaches the dense threshold, or half of it and shares the jargon/terms."""
    if any(hit.dense >= min_similarity for hit in hits):
        return True
    terms, jargon = question_terms(question), jargon_terms(question)
    for hit in hits:
        if hit.dense < min_similarity * _RESCUE_SIMILARITY:
            continue
        text = embed_text(hit.chunk).lower()  # the address counts: `sglang/服务器启动参数.md`
        if jargon and all(term in text for term in jargon):
            return True
        if len(terms) >= 2 and _overlap(terms, text) >= _RESCUE_TERMS:
            return True
    return False


class ExtractiveAnswerer(Runnable[AnswerInput, Answer]):
    """A Runnable turning {"question", "hits"} into a cited extractive `Answer`.

    With the index's `glossary`, an English question's terms also count as covered by
    their Chinese names when sentences are scored (see `assistant.selection`).
    """

    def __init__(
        self, embedder: Embedder, settings: AnswerSettings, glossary: Glossary | None = None
    ) -> None:
        self.embedder = embedder
        self.settings = settings
        self.glossary = glossary

    def invoke(
        self, input: AnswerInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Answer:
        question, hits = input["question"], list(input["hits"])
        language = question_language(question)
        if not has_evidence(question, hits, self.settings.min_similarity):
            # Weak evidence: the fixed reply, with no embedding or model call at all.
            logger.info("abstaining on %r", question)
            return Answer(reply("no_answer", language), abstained=True, passages=hits)
        query = input.get("query_vector")
        if query is None:
            query = self.embedder.embed_batch([question], query=True)[0]
        profile = Question.parse(question, self.glossary)
        # A passage that is all code can still answer "how do I run X" with a command line
        # naming X; such lines compete with prose, at a penalty (see assistant.selection).
        candidates = candidate_sentences(hits) + command_lines(hits, jargon_terms(question))
        chosen = self._choose(profile, candidates, hits, query)
        if not chosen.sentences:  # passages matched, but no sentence is about the question
            return Answer(reply("no_answer", language), abstained=True, passages=hits)
        return compose_answer(chosen, hits, language)

    def _choose(
        self, profile: Question, candidates: list[Sentence], hits: list[Hit], query: np.ndarray
    ) -> Choice:
        if not candidates:
            return Choice([], [])
        return choose(
            profile,
            candidates,
            hits,
            self.embedder.embed_batch([c.text for c in candidates]),
            np.asarray(query, dtype=np.float32),
            min_similarity=self.settings.min_similarity,
            limit=self.settings.max_sentences,
        )


def reading_order(chosen: Choice, hits: list[Hit]) -> list[Sentence]:
    """Sentences grouped by article, the article of the best-scoring sentence first, in
    article text order within one, so two chunks of one article read as one source and
    the answer opens with the source that answers best."""
    best: dict[str, float] = {}
    for sentence, score in zip(chosen.sentences, chosen.scores, strict=True):
        url = hits[sentence.passage].chunk.url
        best[url] = max(best.get(url, score), score)
    rank = {url: n for n, url in enumerate(sorted(best, key=lambda u: -best[u]))}

    def key(c: Sentence) -> tuple[int, int]:
        chunk = hits[c.passage].chunk
        return rank[chunk.url], chunk.start + c.start

    return sorted(chosen.sentences, key=key)


def compose_answer(chosen: Choice, hits: list[Hit], language: str) -> Answer:
    """Join the sentences in reading order, numbering distinct articles.

    Numbers follow articles rather than chunks, so one article is one source to the
    reader. Each sentence still gets its own Citation (an article cited twice repeats
    its `n`), so every sentence of the answer is backed by a quote.
    """
    joiner = "" if language == "zh" else " "
    numbers: dict[str, int] = {}
    citations: list[Citation] = []
    parts: list[str] = []
    for sentence in reading_order(chosen, hits):
        chunk = hits[sentence.passage].chunk
        n = numbers.setdefault(chunk.url, len(numbers) + 1)
        start, end = chunk.start + sentence.start, chunk.start + sentence.end
        link = chunk.url + text_fragment(sentence.text)
        citations.append(
            Citation(n, chunk.url, chunk.title, sentence.text, chunk.chunk_id, start, end, link)
        )
        parts.append(f"{sentence.text}{joiner}[{n}]")
    return Answer(joiner.join(parts), citations=citations, passages=hits)
