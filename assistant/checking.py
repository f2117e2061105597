"""The citation checker: an answer with `[n]` markers in, checked citations out (pure).

A model cites by number, and numbers go wrong in three ways: invented (`[7]` of five
passages), pointing at the wrong passage, or missing on a claim no passage makes.
`check_citations` resolves the markers, scores every sentence against every passage
(character bigrams for Chinese, words for English, exact numbers and identifiers, plus
an optional embedding scorer), moves a citation when another passage clearly supports the
sentence better, and flags sentences nothing supports rather than citing them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.citations import text_fragment
from assistant.sentences import sentence_spans
from assistant.types import Citation
from index import Chunk, Embedder

# scorer(claims, sentences) → a (len(claims), len(sentences)) matrix of support in [0, 1]
# on the lexical score's scale (see `embedding_scorer`); it rescues paraphrase and
# cross-lingual support, which share no words with the passage.
Scorer = Callable[[Sequence[str], Sequence[str]], np.ndarray]

SUPPORT_THRESHOLD = 0.35  # below this no passage supports a sentence: it is flagged
MOVE_MARGIN = 0.15  # another passage must beat the cited one by this much to take over
_SENTENCE_WEIGHT = 0.6  # the rest scores the whole passage (claims that merge sentences)
_IDENTIFIER_WEIGHT = 0.4
_MISSING_NUMBER_FACTOR = 0.5  # a number the passage lacks is the commonest hallucination
_MIN_UNITS = 2  # fewer content units (a heading word, "Yes.") is no claim to check

_MARKER = re.compile(r"[ \t]?\[(\d+)\]")
_TRAILING_MARKERS = re.compile(r"(?:[ \t]*\[\d+\])*")
_ENDERS = "。！？；!?"
_CLOSERS = "”’」』）)\"'*"
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
_WORD = re.compile(r"[a-z0-9]+(?:[-_.][a-z0-9]+)*")
_ASCII_TOKEN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_.\-]*[A-Za-z0-9])?")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_TAIL_PUNCT = re.compile(r"[\s。！？；!?.:：，,*]*$")
_STOPWORDS = frozenset(
    [
        *("the", "a", "an", "is", "are", "was", "were", "be", "been", "of", "to", "in", "on"),
        *("for", "and", "or", "it", "its", "this", "that", "these", "those", "with", "by"),
        *("from", "as", "at", "into", "than", "then", "which", "who", "what", "how", "why"),
        *("does", "do", "did", "can", "also", "so", "such", "not", "no", "but", "if", "when"),
        *("while", "there", "their", "they", "we", "you", "your", "has", "have", "had", "will"),
    ]
)


@dataclass(frozen=True)
class CheckResult:
    """The checked answer: text with resolved markers, one Citation per cited sentence."""

    text: str
    citations: list[Citation]
    unsupported: list[str]  # sentences no passage supports, markers removed
    dropped: list[int]  # markers naming no passage, e.g. [7] with five passages
    moved: list[tuple[int, int]]  # (cited, better) passage numbers


@dataclass(frozen=True)
class _Passage:
    chunk: Chunk
    spans: list[tuple[int, int]]  # candidate quotes: sentences of the chunk
    sentence_units: list[set[str]]
    units: set[str]
    lowered: str


@dataclass(frozen=True)
class _Support:
    score: float
    span: tuple[int, int]  # the best supporting sentence, chunk offsets


def content_units(text: str) -> set[str]:
    """Chinese character bigrams plus lowercased English words (light plural stemming)."""
    lowered = text.lower()
    units: set[str] = set()
    for run in _CJK_RUN.findall(lowered):
        if len(run) == 1:
            units.add(run)
        units.update(run[i : i + 2] for i in range(len(run) - 1))
    for word in _WORD.findall(lowered):
        if word not in _STOPWORDS and not (len(word) == 1 and word.isalpha()):
            units.add(word[:-1] if len(word) > 3 and word.endswith("s") else word)
    return units


def identifiers(text: str) -> set[str]:
    """Numbers and identifier-like terms (ZeRO-3, CUDA_VISIBLE_DEVICES, vLLM, 4096).

    All-capital words (GPU, KV) are left out: acronyms that common are no evidence.
    """
    found = set()
    for token in _ASCII_TOKEN.findall(text):
        mixed_case = sum(ch.isupper() for ch in token) >= 2 and not token.isupper()
        if mixed_case or any(ch.isdigit() or ch in "-_" for ch in token):
            found.add(token.lower())
    return found


def _present(term: str, lowered: str) -> bool:
    return re.search(rf"(?<![a-z0-9]){re.escape(term)}(?![a-z0-9])", lowered) is not None


def _passage(chunk: Chunk) -> _Passage:
    spans = sentence_spans(chunk.text) or [(0, len(chunk.text))]
    units = [content_units(chunk.text[s:e]) for s, e in spans]
    return _Passage(chunk, spans, units, content_units(chunk.text), chunk.text.lower())


def _claim_spans(text: str) -> list[tuple[int, int]]:
    """Contiguous spans covering `text`, one per sentence, each with its trailing markers."""
    spans: list[tuple[int, int]] = []
    begin, i, n = 0, 0, len(text)
    while i < n:
        ch = text[i]
        follows = text[i + 1] if i + 1 < n else " "
        if ch == "\n" or ch in _ENDERS or (ch == "." and (follows.isspace() or follows == "[")):
            cut = i + 1
            while cut < n and text[cut] in _CLOSERS:
                cut += 1
            cut = _TRAILING_MARKERS.match(text, cut).end()  # type: ignore[union-attr]
            spans.append((begin, cut))
            begin = i = cut
            continue
        i += 1
    if begin < n:
        spans.append((begin, n))
    return spans


def _mix(overlap: float, identifier_share: float | None) -> float:
    if identifier_share is None:
        return overlap
    return (1 - _IDENTIFIER_WEIGHT) * overlap + _IDENTIFIER_WEIGHT * identifier_share


def _supports(
    claim: str, passages: list[_Passage], similarities: list[np.ndarray] | None
) -> list[_Support]:
    """How well each passage supports `claim`: best sentence blended with the whole passage."""
    units = content_units(claim)
    terms = identifiers(claim)
    out = []
    for p, passage in enumerate(passages):
        present = {t: _present(t, passage.lowered) for t in terms}
        share = sum(present.values()) / len(terms) if terms else None
        missing_number = any(not ok and _NUMBER.fullmatch(t) for t, ok in present.items())
        factor = _MISSING_NUMBER_FACTOR if missing_number else 1.0
        sentence = [_mix(len(units & s) / len(units), share) for s in passage.sentence_units]
        whole = _mix(len(units & passage.units) / len(units), share)
        if similarities is not None:  # the scorer can only add support words did not see
            sentence = [max(s, float(c)) for s, c in zip(sentence, similarities[p], strict=True)]
            whole = max(whole, float(similarities[p].max()))
        sentence = [s * factor for s in sentence]
        whole *= factor
        best = int(np.argmax(sentence))
        score = _SENTENCE_WEIGHT * sentence[best] + (1 - _SENTENCE_WEIGHT) * whole
        out.append(_Support(score, passage.spans[best]))
    return out


def _decide(
    cited: list[int], supports: list[_Support], threshold: float, margin: float
) -> tuple[list[int], list[tuple[int, int]]]:
    """The passage numbers a claim keeps (empty: unsupported) and the moves made."""
    scores = [s.score for s in supports]
    best = int(np.argmax(scores)) + 1 if scores else 0
    if not scores or scores[best - 1] < threshold:
        return [], []
    if not cited:  # supported but uncited: the best passage is the honest source
        return [best], []
    kept: list[int] = []
    moved: list[tuple[int, int]] = []
    for n in cited:
        score = scores[n - 1]
        # With several markers each passage may back one part, so only a failing one moves.
        clearly_worse = len(cited) == 1 and scores[best - 1] - score >= margin
        if score < threshold or clearly_worse:
            moved.append((n, best))
            n = best
        if n not in kept:
            kept.append(n)
    return kept, moved


def _rewrite(claim: str, numbers: list[int]) -> str:
    """`claim` with its markers replaced by `numbers`, placed where the first marker was."""
    first = _MARKER.search(claim)
    stripped = _MARKER.sub("", claim)
    if not numbers:
        return stripped
    tags = "".join(f"[{n}]" for n in numbers)
    if first is not None:
        lead = " " if first.group(0).startswith((" ", "\t")) else ""
        return stripped[: first.start()] + lead + tags + stripped[first.start() :]
    at = _TAIL_PUNCT.search(stripped).start()  # type: ignore[union-attr]
    lead = "" if _CJK_RUN.search(stripped[max(0, at - 1) : at]) else " "
    return stripped[:at] + lead + tags + stripped[at:]


def _citation(n: int, passage: _Passage, span: tuple[int, int]) -> Citation:
    chunk = passage.chunk
    quote = chunk.text[span[0] : span[1]]
    start, end = chunk.start + span[0], chunk.start + span[1]
    link = chunk.url + text_fragment(quote)
    return Citation(n, chunk.url, chunk.title, quote, chunk.chunk_id, start, end, link)


def check_citations(
    text: str,
    chunks: Sequence[Chunk],
    *,
    scorer: Scorer | None = None,
    threshold: float = SUPPORT_THRESHOLD,
    margin: float = MOVE_MARGIN,
) -> CheckResult:
    """Check the `[n]` markers of `text` against `chunks` (passage n is `chunks[n - 1]`)."""
    passages = [_passage(c) for c in chunks]
    spans = _claim_spans(text)
    claims = [_MARKER.sub("", text[s:e]).strip() for s, e in spans]
    checked = [i for i, c in enumerate(claims) if len(content_units(c)) >= _MIN_UNITS]
    similarities = _similarities([claims[i] for i in checked], passages, scorer)
    parts: list[str] = []
    citations: list[Citation] = []
    unsupported: list[str] = []
    dropped: list[int] = []
    moved: list[tuple[int, int]] = []
    for i, (start, end) in enumerate(spans):
        claim = text[start:end]
        numbers = [int(m.group(1)) for m in _MARKER.finditer(claim)]
        dropped += [n for n in numbers if not 1 <= n <= len(passages)]
        if i not in checked:
            parts.append(_MARKER.sub("", claim))  # nothing to check, nothing to cite
            continue
        cited = list(dict.fromkeys(n for n in numbers if 1 <= n <= len(passages)))
        row = None if similarities is None else similarities[checked.index(i)]
        supports = _supports(claims[i], passages, row)
        kept, moves = _decide(cited, supports, threshold, margin)
        moved += moves
        if not kept:
            unsupported.append(claims[i])
        citations += [_citation(n, passages[n - 1], supports[n - 1].span) for n in kept]
        parts.append(claim if kept == numbers else _rewrite(claim, kept))
    return CheckResult("".join(parts), citations, unsupported, dropped, moved)


def _similarities(
    claims: list[str], passages: list[_Passage], scorer: Scorer | None
) -> list[list[np.ndarray]] | None:
    """Per claim, per passage: the scorer's similarity to each sentence (one batch call)."""
    if scorer is None or not claims or not passages:
        return None
    sentences = [p.chunk.text[s:e] for p in passages for s, e in p.spans]
    matrix = np.asarray(scorer(claims, sentences), dtype=np.float32)
    bounds = np.cumsum([0] + [len(p.spans) for p in passages])
    return [[row[bounds[j] : bounds[j + 1]] for j in range(len(passages))] for row in matrix]


def embedding_scorer(embedder: Embedder, floor: float = 0.35, ceiling: float = 0.85) -> Scorer:
    """A Scorer mapping an embedder's cosines from [floor, ceiling] onto support [0, 1].

    The defaults suit USE multilingual, where unrelated sentences on one topic reach about
    0.35 and a translation about 0.65 or more; models with other cosine ranges need theirs.
    """

    def score(claims: Sequence[str], sentences: Sequence[str]) -> np.ndarray:
        vectors = embedder.embed_batch([*claims, *sentences])
        cosines = vectors[: len(claims)] @ vectors[len(claims) :].T
        return np.asarray(np.clip((cosines - floor) / (ceiling - floor), 0.0, 1.0))

    return score
