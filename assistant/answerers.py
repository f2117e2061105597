"""The extractive answerer: the best sentences of the top passages, each one cited.

It cannot hallucinate: every sentence of an answer is a verbatim span of an indexed
article, so its citation quote is exactly what the answer says.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

import jieba
import numpy as np
from langchain_core.runnables import Runnable, RunnableConfig

from assistant.citations import text_fragment
from assistant.config import AnswerSettings
from assistant.prompts import question_language, reply
from assistant.types import Answer, Citation
from index import Embedder, Hit

logger = logging.getLogger(__name__)

_ENDERS = "。！？；!?"
_CLOSERS = "”’」』）)\"'"
_CODE_FENCE = re.compile(r"^\s*(```|~~~).*?(^\s*(```|~~~)|\Z)", re.MULTILINE | re.DOTALL)
_LEAD_MARKUP = re.compile(r"^(?:\s|>|[-*+]\s|\d{1,3}[.)]\s)+")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_CONTENT = re.compile(r"[A-Za-z0-9\u3400-\u4dbf\u4e00-\u9fff]")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_WORD = re.compile(r"[A-Za-z]{2,}")
_URL = re.compile(r"https?://\S+")
# Code that leaked out of a fence (a chunk may start inside one): assignments, calls,
# statements; prose hardly ever has these.
_CODE_LIKE = re.compile(
    r"^[\w.\[\]]+\s*[-+*/]?=\s*\S|\w\.\w+\(|^(?:return|def|class|import|from|for|while|if|"
    r"elif|else|try|except|with|print)\b[^，。]*$|[;{}]\s*$"
)
# Dot leaders of logs, file paths, footnotes, list intros, and questions (not answers).
_NOISE = re.compile(r"\.{4,}|(?:/[\w.-]+){3,}|^\[\^|[:：]$|[?？][\"'”’」)）]*$")
# Identifier-like terms (PagedAttention, LoRA, ZeRO-3, CUDA_VISIBLE_DEVICES): rare jargon
# whose presence in a passage is strong evidence even when embeddings disagree.
_JARGON = re.compile(r"\b[A-Za-z][A-Za-z0-9]*(?:[-_.][A-Za-z0-9]+)*\b")
_STOPWORDS = frozenset(
    [
        *("the", "a", "an", "is", "are", "was", "were", "be", "of", "to", "in", "on", "for"),
        *("and", "or", "what", "how", "why", "which", "who", "does", "do", "did", "can"),
        *("with", "by", "from", "as", "at", "it", "its", "this", "that", "these", "those"),
        *("about", "into", "than", "then", "vs", "什么", "怎么", "如何", "为什么", "哪些"),
        *("的", "了", "是", "吗", "呢", "和", "与", "在", "有", "中"),
    ]
)

# Weights of the sentence score; cosine dominates, term overlap rescues exact jargon.
_OVERLAP_WEIGHT = 0.35
_RANK_WEIGHT = 0.05
_RELATIVE_CUTOFF = 0.6  # drop sentences scoring below this share of the best one
_REDUNDANT_COSINE = 0.92
_MMR_PENALTY = 0.25  # share of a sentence's similarity to earlier picks taken off its score
_MIN_INFORMATION = 15  # CJK characters + 3 per English word
_MAX_SENTENCE_CHARS = 400
# A passage holding the question's jargon or most of its terms verbatim is evidence even
# below the dense threshold: USE scores rare jargon ("PagedAttention") low, and English
# questions low against Chinese passages.
_RESCUE_SIMILARITY = 0.5  # share of answer.min_similarity still acceptable then
_RESCUE_TERMS = 2 / 3


class AnswerInput(TypedDict):
    """What the answerer receives from the chain."""

    question: str
    hits: list[Hit]
    query_vector: NotRequired[np.ndarray]


@dataclass(frozen=True)
class Sentence:
    """A candidate sentence: a verbatim span `text == hit.chunk.text[start:end]`."""

    passage: int  # index of the hit in the retrieved list
    start: int
    end: int
    text: str


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentence spans of `text` (Chinese and English), lines kept apart, markup trimmed."""
    spans: list[tuple[int, int]] = []
    begin, i, n = 0, 0, len(text)
    while i < n:
        ch = text[i]
        cut = None
        if ch == "\n":
            spans.append((begin, i))
            begin = i = i + 1
            continue
        if ch in _ENDERS or (ch == "." and (i + 1 == n or text[i + 1].isspace())):
            cut = i + 1
            while cut < n and text[cut] in _CLOSERS:
                cut += 1
        if cut is not None:
            spans.append((begin, cut))
            begin, i = cut, cut
            continue
        i += 1
    spans.append((begin, n))
    return [span for span in (_trim(text, s, e) for s, e in spans) if span is not None]


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    piece = text[start:end]
    lead = _LEAD_MARKUP.match(piece)
    if lead:
        start += lead.end()
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None


def _is_answer_like(text: str) -> bool:
    """Headings, table rows, link lines, log output and fragments make poor answers."""
    # A line opening with a link is a reference-list entry, not a statement.
    if text.startswith(("#", "|", "<", "[", "```")) or len(text) > _MAX_SENTENCE_CHARS:
        return False
    prose = _LINK.sub(r"\1", text)
    if _URL.search(prose) or _NOISE.search(prose) or _CODE_LIKE.search(prose):
        return False
    return len(_CJK.findall(prose)) + 3 * len(_WORD.findall(prose)) >= _MIN_INFORMATION


def candidate_sentences(hits: list[Hit]) -> list[Sentence]:
    """Answer-like sentences of every passage, outside code blocks, without repeats."""
    out: list[Sentence] = []
    seen: set[tuple[str, str]] = set()
    for passage, hit in enumerate(hits):
        text = hit.chunk.text
        code = [(m.start(), m.end()) for m in _CODE_FENCE.finditer(text)]
        for start, end in sentence_spans(text):
            piece = text[start:end]
            in_code = any(s <= start < e for s, e in code)
            key = (hit.chunk.url, " ".join(piece.split()))
            if in_code or key in seen or not _is_answer_like(piece):
                continue
            seen.add(key)
            out.append(Sentence(passage, start, end, piece))
    return out


def question_terms(question: str) -> set[str]:
    """Content terms of the question (jieba search-mode tokens, lowercased)."""
    tokens = jieba.lcut_for_search(question.lower())
    return {t for t in tokens if len(t) > 1 and _CONTENT.search(t) and t not in _STOPWORDS}


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
        text = f"{hit.chunk.title}\n{hit.chunk.text}".lower()
        if jargon and all(term in text for term in jargon):
            return True
        if len(terms) >= 2 and _overlap(terms, text) >= _RESCUE_TERMS:
            return True
    return False


class ExtractiveAnswerer(Runnable[AnswerInput, Answer]):
    """A Runnable turning {"question", "hits"} into a cited extractive `Answer`."""

    def __init__(self, embedder: Embedder, settings: AnswerSettings) -> None:
        self.embedder = embedder
        self.settings = settings

    def invoke(
        self, input: AnswerInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Answer:
        question, hits = input["question"], list(input["hits"])
        language = question_language(question)
        if not has_evidence(question, hits, self.settings.min_similarity):
            # Weak evidence: the fixed reply, with no embedding or model call at all.
            logger.info("abstaining on %r", question)
            return Answer(reply("no_answer", language), abstained=True, passages=hits)
        candidates = candidate_sentences(hits)
        if not candidates:
            return Answer(reply("no_answer", language), abstained=True, passages=hits)
        query = input.get("query_vector")
        if query is None:
            query = self.embedder.embed_batch([question], query=True)[0]
        chosen = self._select(question, candidates, np.asarray(query, dtype=np.float32))
        if not chosen:  # passages matched, but no sentence in them is about the question
            return Answer(reply("no_answer", language), abstained=True, passages=hits)
        return compose_answer(chosen, hits, language)

    def _select(
        self, question: str, candidates: list[Sentence], query: np.ndarray
    ) -> list[Sentence]:
        vectors = self.embedder.embed_batch([c.text for c in candidates])
        terms = question_terms(question)
        cosines = vectors @ query
        overlaps = [_overlap(terms, c.text) for c in candidates]
        scores = [
            float(cosines[i]) + _OVERLAP_WEIGHT * overlaps[i] + _RANK_WEIGHT / (1 + c.passage)
            for i, c in enumerate(candidates)
        ]
        order = sorted(range(len(candidates)), key=lambda i: -scores[i])
        floor = scores[order[0]] * _RELATIVE_CUTOFF
        # A sentence sharing no question term must stand on its own similarity.
        pool = [
            i
            for i in order
            if scores[i] >= floor
            and (overlaps[i] > 0 or cosines[i] >= self.settings.min_similarity)
        ]
        return [candidates[i] for i in _mmr(pool, scores, vectors, self.settings.max_sentences)]


def _mmr(pool: list[int], scores: list[float], vectors: np.ndarray, limit: int) -> list[int]:
    """Maximal marginal relevance: each pick pays for its similarity to those before it,
    so a second sentence saying the same thing in other words loses to a new point."""
    picked: list[int] = []
    left = list(pool)
    while left and len(picked) < limit:

        def marginal(i: int) -> float:
            overlap = max((float(vectors[i] @ vectors[j]) for j in picked), default=0.0)
            return scores[i] - _MMR_PENALTY * overlap

        best = max(left, key=marginal)
        left.remove(best)
        if all(float(vectors[best] @ vectors[j]) < _REDUNDANT_COSINE for j in picked):
            picked.append(best)
    return picked


def reading_order(chosen: list[Sentence], hits: list[Hit]) -> list[Sentence]:
    """Sentences grouped by article (best-ranked first), in article text order within one,
    so two chunks of one article read as one source rather than interleaving with others."""
    first: dict[str, int] = {}
    for rank, hit in enumerate(hits):
        first.setdefault(hit.chunk.url, rank)

    def key(c: Sentence) -> tuple[int, int]:
        chunk = hits[c.passage].chunk
        return first[chunk.url], chunk.start + c.start

    return sorted(chosen, key=key)


def compose_answer(chosen: list[Sentence], hits: list[Hit], language: str) -> Answer:
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
