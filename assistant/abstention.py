"""Abstention decided from retrieval signals, before any answer is generated.

USE cosines alone do not separate the dev set's unanswerable questions from the answerable
ones (both span 0.35-0.52 on `tune`), and neither do RRF scores or their gaps. Two signals
do, and they are cheap because they read only the hits already retrieved:

- **named terms**: a question naming something (KServe, GraphRAG, Mamba, `HCCL_…`) whose
  name no retrieved passage contains is about something the articles do not cover;
- **agreement**: when dense and BM25 retrieval rank the same article on top, a modest
  cosine is still good evidence; when they disagree, it is not.

The rule (thresholds in `AbstentionSettings`, calibrated by
`benchmarks/calibrate_abstention.py` on the tune split) abstains when any of these holds:
no passage reaches `answer.min_similarity` (the answerers' `has_evidence`, which lets
jargon found verbatim stand in for half of it); a named term is missing from every
passage; or the best cosine is below `weak_similarity` and the retrievers disagree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig

from assistant.answerers import AnswerInput, has_evidence
from assistant.config import AbstentionSettings, AnswerSettings
from assistant.llm import AnswerEvent
from assistant.prompts import NEAREST_HEADING, ZH_SOURCES_NOTICE, question_language, reply
from assistant.types import Answer
from index import Hit, embed_text

# A name starts a word: "16x64" is a shape, and its tail "x64" is no name.
_NAME = re.compile(r"(?<![A-Za-z0-9])[A-Za-z][A-Za-z0-9]*(?:(?:[-_.]|::)[A-Za-z0-9]+)*")
_ALNUM = re.compile(r"[^0-9a-z]+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_SENTENCE_END = ".?!。？！"
_SHORT_NAME = 3  # names this short (KTO, IK) must match as whole words, not substrings
_NEAREST = 3  # articles listed when abstaining


@dataclass(frozen=True)
class Signals:
    """What retrieval says about a question, and why it would abstain (empty: answer)."""

    top_cosine: float  # best dense cosine among the hits
    top_score: float  # fused (RRF) score of the first hit
    gap: float  # fused score of hit 1 minus hit 2
    agreement: bool  # dense and BM25 both rank the top article among their best
    evidence: bool  # a passage reaches min_similarity (or half of it with the jargon)
    missing: tuple[str, ...]  # named terms of the question that no passage contains
    reasons: tuple[str, ...]

    @property
    def abstain(self) -> bool:
        return bool(self.reasons)


def _sentence_initial(text: str, at: int) -> bool:
    before = text[:at].rstrip(" \t\"'(`")
    return not before or before[-1] in _SENTENCE_END


def named_terms(question: str) -> list[str]:
    """Names in the question: identifiers, acronyms, CamelCase and capitalized words.

    A capitalized first word of an English sentence ("How", "Does") is no name; plain
    lowercase words, hyphenated or not ("long-context"), are left to the embeddings.
    """
    english = question_language(question) == "en"
    found: dict[str, None] = {}
    for match in _NAME.finditer(question):
        word, at = match.group(), match.start()
        if len(word) < 2:
            continue
        quoted = question[max(0, at - 2) : at].endswith(("`", "--"))
        identifier = any(ch.isdigit() or ch in "_." for ch in word) or "::" in word
        capitals = sum(ch.isupper() for ch in word)
        inner_capital = any(ch.isupper() for ch in word[1:])
        capitalized = word[0].isupper() and not (english and _sentence_initial(question, at))
        if quoted or identifier or capitals >= 2 or inner_capital or capitalized:
            found.setdefault(word, None)
    return list(found)


def _present(term: str, lowered: str, squashed: str) -> bool:
    key = _ALNUM.sub("", term.lower())
    if len(key) <= _SHORT_NAME:
        pattern = rf"(?<![a-z0-9]){re.escape(term.lower())}(?![a-z0-9])"
        return re.search(pattern, lowered) is not None
    if key in squashed:  # "Llama3" matches "Llama 3", "DeepSeek-V3" "DeepSeek V3"
        return True
    # "multi-GPU" is about GPUs: a compound is present when its named parts all are.
    parts = [p for p in re.split(r"[-_.]|::", term) if p != term and _is_name(p)]
    return bool(parts) and all(_present(p, lowered, squashed) for p in parts)


def _is_name(part: str) -> bool:
    return len(part) >= 2 and (sum(ch.isupper() for ch in part) >= 2 or part[0].isupper())


def missing_terms(question: str, hits: list[Hit]) -> list[str]:
    """Named terms of the question that occur in no hit (address, title, heading or text)."""
    lowered = "\n".join(embed_text(h.chunk) for h in hits).lower()
    squashed = _ALNUM.sub("", lowered)
    return [t for t in named_terms(question) if not _present(t, lowered, squashed)]


def _best_articles(hits: list[Hit], key: str, depth: int) -> list[int]:
    ordered = sorted(hits, key=lambda h: -float(getattr(h, key)))
    return list(dict.fromkeys(h.chunk.article_id for h in ordered))[:depth]


def retrievers_agree(hits: list[Hit], depth: int) -> bool:
    """Whether the top hit's article is among the `depth` best by cosine and by BM25.

    Read off the fused hits' own scores, so it costs no extra search: RRF puts an article
    on top that either retriever alone ranks first, and this asks whether both do.
    """
    if not hits or hits[0].lexical <= 0:
        return False
    top = hits[0].chunk.article_id
    return top in _best_articles(hits, "dense", depth) and top in _best_articles(
        hits, "lexical", depth
    )


class CorpusNames:
    """Answers "does any article name this term?", over the whole indexed corpus or over
    the retrieved articles' full texts."""

    def __init__(
        self, text: Callable[[], str], article: Callable[[int], str] | None = None
    ) -> None:
        self._text = text
        self._article = article
        self._cache: tuple[str, str] | None = None

    def names(self, term: str) -> bool:
        if self._cache is None:  # built on first use: 8 MB of text for the shared archive
            lowered = self._text()
            self._cache = (lowered, _ALNUM.sub("", lowered))
        return _present(term, *self._cache)

    def in_articles(self, terms: tuple[str, ...], hits: list[Hit]) -> tuple[str, ...]:
        """The `terms` that no retrieved article names anywhere in its text."""
        if self._article is None or not terms:
            return terms
        ids = dict.fromkeys(h.chunk.article_id for h in hits)
        lowered = "\n".join(self._article(i) for i in ids)
        squashed = _ALNUM.sub("", lowered)
        return tuple(t for t in terms if not _present(t, lowered, squashed))


def signals(
    question: str,
    hits: list[Hit],
    min_similarity: float,
    settings: AbstentionSettings,
    corpus: CorpusNames | None = None,
) -> Signals:
    """The retrieval signals of `hits` for `question`, and the rules they trip.

    A name missing from the passages may still be in the rest of their articles: scope
    "articles" (the default) then counts it as present, since a 600-character passage
    is a window on an article that is about the name ("在 Llama3 上能快多少" retrieves
    the Async-TP article, whose benchmark section names Llama3). Scope "corpus" counts
    it only when no article names it: one the corpus has is a retrieval miss. Only the
    best `named_terms_depth` hits count: an article that names Mamba in passing, ranked
    sixth, does not make a question about Mamba answerable.
    """
    top_cosine = max((h.dense for h in hits), default=0.0)
    top_score = hits[0].score if hits else 0.0
    gap = top_score - hits[1].score if len(hits) > 1 else top_score
    agree = retrievers_agree(hits, settings.agreement_depth)
    top = hits[: settings.named_terms_depth]
    missing = tuple(missing_terms(question, top)) if settings.named_terms and hits else ()
    if corpus is not None and settings.named_terms_scope == "corpus":
        missing = tuple(term for term in missing if not corpus.names(term))
    elif corpus is not None and settings.named_terms_scope == "articles":
        missing = corpus.in_articles(missing, top)
    evidence = has_evidence(question, hits, min_similarity)
    reasons = []
    if not evidence:
        reasons.append("no passage is similar enough")
    if missing:
        reasons.append("no passage mentions " + ", ".join(missing))
    # Cross-lingual cosines run low (an English question over Chinese articles scores
    # ~0.2), so a question whose names the passages all contain is not "weak".
    named = settings.named_terms and bool(hits) and bool(named_terms(question)) and not missing
    if top_cosine < settings.weak_similarity and not agree and not named:
        reasons.append("weak similarity and dense and BM25 disagree")
    return Signals(top_cosine, top_score, gap, agree, evidence, missing, tuple(reasons))


def nearest_articles(hits: list[Hit], limit: int = _NEAREST) -> list[Hit]:
    """The first hit of each of the `limit` best-ranked articles."""
    seen: dict[str, Hit] = {}
    for hit in hits:
        seen.setdefault(hit.chunk.url, hit)
    return list(seen.values())[:limit]


def abstention_text(language: str, hits: list[Hit]) -> str:
    """The fixed "not covered" reply plus the nearest articles and their reading-list topic."""
    lines = [reply("no_answer", language)]
    nearest = nearest_articles(hits)
    if nearest:
        lines += ["", NEAREST_HEADING.get(language, NEAREST_HEADING["en"])]
    for hit in nearest:
        chunk = hit.chunk
        topic = f" · {chunk.topic}" if chunk.topic else ""
        lines.append(f"- {chunk.title or chunk.url}{topic} <{chunk.url}>")
    return "\n".join(lines)


def _mostly_chinese(text: str) -> bool:
    cjk = len(_CJK.findall(text))
    return cjk * 3 >= len(re.findall(r"[A-Za-z]", text)) and cjk > 0


def finish(question: str, answer: Answer) -> Answer:
    """Abstentions list the nearest articles; English over Chinese quotes says so."""
    language = question_language(question)
    if answer.abstained:
        return replace(answer, text=abstention_text(language, answer.passages))
    quotes = "".join(c.quote for c in answer.citations)
    if language == "en" and quotes and _mostly_chinese(quotes):
        notice = ZH_SOURCES_NOTICE
        note = " ".join(n for n in (answer.notice, notice) if n)
        return replace(answer, text=f"{notice}\n\n{answer.text}", notice=note)
    return answer


class AbstentionGate(Runnable[AnswerInput, AnswerEvent]):
    """Abstains from retrieval signals before the answerer runs (no LLM call), and
    finishes whatever the answerer returns (nearest articles, language notice)."""

    def __init__(
        self,
        answerer: Runnable[AnswerInput, Any],
        settings: AnswerSettings,
        corpus: Callable[[], str] | None = None,
        article: Callable[[int], str] | None = None,
    ) -> None:
        self.answerer = answerer
        self.settings = settings
        self.corpus = CorpusNames(corpus, article) if corpus is not None else None

    def decide(self, input: AnswerInput) -> Signals:
        s = self.settings
        hits = list(input["hits"])
        return signals(input["question"], hits, s.min_similarity, s.abstention, self.corpus)

    def invoke(
        self, input: AnswerInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Answer:
        question, hits = input["question"], list(input["hits"])
        if self.decide(input).abstain:
            return finish(question, Answer("", abstained=True, passages=hits))
        result = self.answerer.invoke(input, config)  # one plain request, not a stream
        return finish(question, result if isinstance(result, Answer) else Answer(str(result)))

    def stream(
        self, input: AnswerInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[AnswerEvent]:
        question, hits = input["question"], list(input["hits"])
        if self.decide(input).abstain:
            yield finish(question, Answer("", abstained=True, passages=hits))
            return
        for event in self.answerer.stream(input, config):
            yield finish(question, event) if isinstance(event, Answer) else event
