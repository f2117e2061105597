"""Which candidate sentences answer the question: a scored, redundancy-aware choice.

A sentence answers when it is about the question (USE cosine to the question; coverage
of the question's terms, rarer terms weighing more, English terms also found by their
Chinese glossary names) **and** says something the question does not: a sentence that
only restates the question ("考虑一个使用128线程块、每个线程使用37个寄存器的 kernel") or
points at a figure ("如图1所示") does not answer it. A question asking for a number
(多少, how much) or a reason (为什么, why) prefers sentences with a new number or a causal
word. MMR then trades each pick's score against its similarity to the ones before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import jieba
import numpy as np

from assistant.checking import _CJK_RUN, _NUMBER, _WORD  # one definition of a unit's parts
from assistant.sentences import Sentence, information
from index import Glossary, Hit

_CONTENT = re.compile(r"[A-Za-z0-9\u3400-\u4dbf\u4e00-\u9fff]")
_WANTS_NUMBER = re.compile(
    r"多少|几[倍个次种张层]|多大|多快|多长|百分之|how (?:much|many|long|fast|big)|"
    r"what (?:percentage|fraction|ratio)|by how",
    re.IGNORECASE,
)
_WANTS_REASON = re.compile(r"为什么|为何|原因|why\b|what makes", re.IGNORECASE)
_CAUSAL = re.compile(
    r"因为|由于|所以|因此|导致|原因|使得|从而|以便|because|since|due to|so that|therefore|thus",
    re.IGNORECASE,
)
# Sentences that lean on something outside themselves: a figure, a slide, "the following".
_DEICTIC = re.compile(
    r"^(?:如图|如下|下图|上图|图中|这张|这页|本页|可以看到|see (?:the )?(?:figure|below))",
    re.IGNORECASE,
)
_STOPWORDS = frozenset(
    [
        *("the", "a", "an", "is", "are", "was", "were", "be", "of", "to", "in", "on", "for"),
        *("and", "or", "what", "how", "why", "which", "who", "does", "do", "did", "can"),
        *("with", "by", "from", "as", "at", "it", "its", "this", "that", "these", "those"),
        *("about", "into", "than", "then", "vs", "什么", "怎么", "如何", "为什么", "哪些"),
        *("的", "了", "是", "吗", "呢", "和", "与", "在", "有", "中", "多少", "怎么样"),
    ]
)

# Weights of the sentence score (chosen on the dev set's tune split, see README).
COVERAGE_WEIGHT = 0.35  # share of the question's (idf-weighted) terms in the sentence
HEADING_WEIGHT = 0.05  # ... in the heading path of the sentence's passage
TYPE_WEIGHT = 0.08  # a new number for "how much", a causal word for "why"
RANK_WEIGHT = 0.05  # retrieval rank of the passage: 0.05 / (1 + rank)
RESTATE_WEIGHT = 0.3  # a sentence most of whose content is the question's own words
DEICTIC_WEIGHT = 0.08
SHORT_WEIGHT = 0.08  # scaled by how far a sentence falls short of _FULL_INFORMATION
COMMAND_WEIGHT = 0.1  # a command line is a terse answer: prose that says as much wins
FRAGMENT_WEIGHT = 0.1  # an English line cut mid-sentence by a hard wrap
_FULL_INFORMATION = 30
NOVEL_ENOUGH = 0.8  # share of new content units under which a sentence partly restates
RELATIVE_CUTOFF = 0.6  # drop sentences scoring below this share of the best one
MMR_PENALTY = 0.25  # share of a sentence's similarity to earlier picks taken off its score
REDUNDANT_COSINE = 0.92


def question_terms(question: str) -> set[str]:
    """Content terms of the question (jieba search-mode tokens, lowercased)."""
    tokens = jieba.lcut_for_search(question.lower())
    return {t for t in tokens if len(t) > 1 and _CONTENT.search(t) and t not in _STOPWORDS}


def units(text: str) -> set[str]:
    """Content units: Chinese character bigrams and English words/numbers, lowercased."""
    lowered = text.lower()
    found = {w for w in _WORD.findall(lowered) if w not in _STOPWORDS}
    for run in _CJK_RUN.findall(lowered):
        found.update(run[i : i + 2] for i in range(len(run) - 1))
    return found


@dataclass(frozen=True)
class Question:
    """What a question asks for, as sentence scoring needs it."""

    concepts: tuple[tuple[str, ...], ...]  # each: alternative names, any of which covers it
    units: frozenset[str]
    numbers: frozenset[str]
    wants_number: bool
    wants_reason: bool

    @classmethod
    def parse(cls, question: str, glossary: Glossary | None = None) -> Question:
        concepts: list[tuple[str, ...]] = [(t,) for t in sorted(question_terms(question))]
        names: set[str] = set()
        for term, by_english in glossary.matches(question) if glossary else []:
            other = term.chinese if by_english else term.english
            concepts.append(tuple(n.lower() for n in other))
            names.update(n.lower() for n in other)
        expanded = units(question) | {u for n in names for u in units(n)}
        return cls(
            tuple(concepts),
            frozenset(expanded),
            frozenset(_NUMBER.findall(question)),
            _WANTS_NUMBER.search(question) is not None,
            _WANTS_REASON.search(question) is not None,
        )

    def covered(self, text: str) -> list[bool]:
        lowered = text.lower()
        return [any(name in lowered for name in names) for names in self.concepts]


def _idf(question: Question, texts: Sequence[str]) -> np.ndarray:
    """Weights of the question's concepts: rare among the candidates weighs more."""
    if not question.concepts:
        return np.zeros(0)
    found = np.array([question.covered(t) for t in texts], dtype=bool).reshape(len(texts), -1)
    df = found.sum(axis=0)
    weights: np.ndarray = np.log1p(len(texts) / (1.0 + df))
    return weights


def coverage(question: Question, text: str, weights: np.ndarray) -> float:
    """Share of the question's concept weight that `text` mentions."""
    total = float(weights.sum())
    if total <= 0:
        return 0.0
    return float(weights[np.array(question.covered(text), dtype=bool)].sum()) / total


def _novelty(question: Question, text: str) -> float:
    own = units(text)
    return len(own - question.units) / len(own) if own else 0.0


def _type_match(question: Question, text: str) -> float:
    """1 when the sentence has what the question asks for; -1 when it only echoes the
    numbers the question gives (its setup: "考虑一个使用128线程块……的 kernel")."""
    match = 0.0
    if question.wants_number:
        numbers = set(_NUMBER.findall(text))
        match = 1.0 if numbers - question.numbers else -1.0 if numbers else 0.0
    if question.wants_reason and _CAUSAL.search(text):
        match = 1.0
    return match


def sentence_score(
    question: Question, sentence: Sentence, hit: Hit, cosine: float, weights: np.ndarray
) -> float:
    """How well one sentence answers the question (higher is better)."""
    text = sentence.text
    score = cosine + COVERAGE_WEIGHT * coverage(question, text, weights)
    score += HEADING_WEIGHT * coverage(question, hit.chunk.heading, weights)
    score += TYPE_WEIGHT * _type_match(question, text) + RANK_WEIGHT / (1 + sentence.passage)
    score -= RESTATE_WEIGHT * max(0.0, 1 - _novelty(question, text) / NOVEL_ENOUGH)
    score -= DEICTIC_WEIGHT * bool(_DEICTIC.match(text))
    short = max(0.0, 1 - information(text) / _FULL_INFORMATION)
    score -= FRAGMENT_WEIGHT * (not sentence.command and _cut_off(text))
    return score - SHORT_WEIGHT * short - COMMAND_WEIGHT * sentence.command


def _cut_off(text: str) -> bool:
    """A line cut mid-sentence by a hard wrap: English ending in a lowercase word, or a
    bracket left open ("鲁棒性得到进一步强调（因为有")."""
    unclosed = text.count("(") + text.count("（") > text.count(")") + text.count("）")
    return unclosed or (not _CJK_RUN.search(text) and text[-1].islower())


@dataclass(frozen=True)
class Choice:
    """The chosen sentences and their scores (same order)."""

    sentences: list[Sentence]
    scores: list[float]


def choose(
    question: Question,
    candidates: list[Sentence],
    hits: list[Hit],
    vectors: np.ndarray,
    query: np.ndarray,
    *,
    min_similarity: float,
    limit: int,
) -> Choice:
    """The best `limit` sentences by score and MMR; none that shares no question term and
    is not similar enough on its own."""
    if not candidates:
        return Choice([], [])
    cosines = vectors @ query
    weights = _idf(question, [c.text for c in candidates])
    scores = [
        sentence_score(question, c, hits[c.passage], float(cosines[i]), weights)
        for i, c in enumerate(candidates)
    ]
    floor = max(scores) * RELATIVE_CUTOFF
    pool = [
        i
        for i in sorted(range(len(candidates)), key=lambda i: -scores[i])
        if scores[i] >= floor
        and (coverage(question, candidates[i].text, weights) > 0 or cosines[i] >= min_similarity)
    ]
    picked = mmr(pool, scores, vectors, limit)
    return Choice([candidates[i] for i in picked], [scores[i] for i in picked])


def mmr(pool: list[int], scores: list[float], vectors: np.ndarray, limit: int) -> list[int]:
    """Maximal marginal relevance: each pick pays for its similarity to those before it,
    so a second sentence saying the same thing in other words loses to a new point."""
    picked: list[int] = []
    left = list(pool)
    while left and len(picked) < limit:

        def marginal(i: int) -> float:
            overlap = max((float(vectors[i] @ vectors[j]) for j in picked), default=0.0)
            return scores[i] - MMR_PENALTY * overlap

        best = max(left, key=marginal)
        left.remove(best)
        if all(float(vectors[best] @ vectors[j]) < REDUNDANT_COSINE for j in picked):
            picked.append(best)
    return picked
