"""Query analysis before search: language, small talk, and bilingual glossary expansion.

Most articles are Chinese and many questions are English. BM25 cannot match "gradient
clipping" to 梯度裁剪, and USE places the two only loosely together, so a hand-written
glossary (index/data/glossary.tsv) adds the other language's names of every term a query
mentions.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

Language = Literal["zh", "en"]
ONE_WAY = "en-only"  # third glossary column: the term expands English queries only

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")
_CODE_SPAN = re.compile(r"`[^`]*`")
# Greetings, thanks and questions about the assistant itself, after trimming punctuation
# and a trailing particle. Whole-message matches only: "hi, what is LoRA?" is a question.
_SMALL_TALK = re.compile(
    r"^(?:(?:hi|hello|hey|yo|hiya|howdy|greetings)(?: there)?|good (?:morning|afternoon|evening)"
    r"|thanks?(?: you)?(?: (?:so|very) much)?|thank u|thx|ty|cheers|ok(?:ay)?|bye|goodbye"
    r"|see you|how are you(?: doing)?|who are you|what are you|what can you do"
    r"|你好|您好|嗨|哈喽|hello呀|早上好|下午好|晚上好|早|谢谢(?:你|您)?|多谢|感谢|好的|再见|拜拜"
    r"|你是谁|你是什么|你能做什么|你会什么|你好吗|在吗)"
    r"(?:啊|呀|哦|呢|啦|吗)?$"
)
_TRIM = " \t\r\n,.!?;:~，。！？；：、…\"'“”‘’()（）"
# A code identifier: snake_case, dotted or :: paths, or a --flag. Plain words and names
# (LoRA, ZeRO-3, per-thread) are not: only these are spelled the same in every article.
_CODE_WORD = re.compile(r"(?<![\w-])(?:--)?[A-Za-z_][\w]*(?:(?:::|\.|-)[A-Za-z_0-9]\w*)*")


def query_language(text: str) -> Language:
    """ "zh" when the text is mostly Chinese, else "en".

    Ideographs count three times a Latin letter, because mixed questions such as
    "ZeRO-3 怎么切分参数？" are Chinese questions about English terms. Code spans and
    identifiers do not count: "`cooperative_groups::this_grid().block_rank()` 在批量规约
    kernel 里用来做什么？" is a Chinese question.
    """
    cjk = len(_CJK.findall(text))
    prose = _CODE_SPAN.sub(" ", text)
    prose = _CODE_WORD.sub(lambda m: " " if _is_identifier(m.group()) else m.group(), prose)
    latin = len(_LATIN.findall(prose))
    return "zh" if cjk and cjk * 3 >= latin else "en"


def is_small_talk(text: str) -> bool:
    """Whether the whole message is a greeting, thanks or "who are you" (no retrieval)."""
    core = " ".join(text.lower().strip(_TRIM).split())
    return bool(core) and _SMALL_TALK.match(core) is not None


@dataclass(frozen=True)
class Term:
    """One glossary concept: its English and its Chinese names.

    A one-way term expands English queries only: its Chinese names are not matched.
    """

    english: tuple[str, ...]
    chinese: tuple[str, ...]
    two_way: bool = True


class Glossary:
    """English ↔ Chinese names of LLM terms, matched in queries longest name first."""

    def __init__(self, terms: list[Term]) -> None:
        self.terms = terms
        by_english = {name: t for t in terms for name in t.english}
        # Single ideographs (图, 流) occur inside too many unrelated words to match safely.
        # A Chinese name can belong to several concepts (算子: operator and kernel): all count.
        by_chinese: dict[str, list[Term]] = {}
        for term in terms:
            for name in term.chinese if term.two_way else ():
                if len(name) > 1:
                    by_chinese.setdefault(name, []).append(term)
        self._english = by_english
        self._chinese = by_chinese
        self._english_re = _alternation(by_english, english=True)
        self._chinese_re = _alternation(by_chinese, english=False)

    @classmethod
    def parse(cls, text: str, origin: str = "glossary") -> Glossary:
        """Lines of "english|names<TAB>中文|名称[<TAB>en-only]"; blank lines, # comments skipped.

        "en-only" makes a term one-way: English queries get its Chinese names, Chinese
        queries do not get its English ones (generic words such as 输入 ↔ input would only
        add noise to a Chinese query, whose articles already use the Chinese word).
        """
        terms: list[Term] = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) < 2 or parts[2:] not in ([], [ONE_WAY]):
                raise ValueError(
                    f"{origin}:{number}: expected 'english<TAB>chinese[<TAB>{ONE_WAY}]', "
                    f"got {line!r}"
                )
            english, chinese = (_names(part) for part in parts[:2])
            if not english or not chinese:
                raise ValueError(f"{origin}:{number}: both an English and a Chinese name needed")
            terms.append(Term(tuple(n.lower() for n in english), chinese, len(parts) == 2))
        return cls(terms)

    @classmethod
    def load(cls, path: Path | None = None) -> Glossary:
        """The file at `path`, or the bundled glossary (parsed once per process)."""
        if path is None:
            return _bundled()
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read glossary {path}: fix index.glossary ({exc})") from exc
        return cls.parse(text, str(path))

    def matches(self, query: str) -> list[tuple[Term, bool]]:
        """(term, found by its English name) for each glossary name in the query."""
        found = [
            (self._english[m.group(1)], True) for m in self._english_re.finditer(query.lower())
        ]
        return found + [
            (term, False)
            for m in self._chinese_re.finditer(query)
            for term in self._chinese[m.group(0)]
        ]

    def expansions(self, query: str) -> list[str]:
        """The other language's names of every term in the query, without repeats."""
        lowered = query.lower()
        out: list[str] = []
        for term, by_english in self.matches(query):
            for name in term.chinese if by_english else term.english:
                if name not in out and name.lower() not in lowered:
                    out.append(name)
        return out

    def translate(self, query: str) -> str:
        """The query with each English term replaced by its first Chinese name."""

        def swap(match: re.Match[str]) -> str:
            return self._english[match.group(1)].chinese[0]

        return self._english_re.sub(swap, query.lower())


@dataclass(frozen=True)
class QueryPlan:
    """What search does with one query."""

    text: str
    language: Language
    small_talk: bool
    expansions: tuple[str, ...] = ()
    translation: str = ""  # the query in the other language, for the dense side
    identifiers: tuple[str, ...] = ()  # code identifiers, lowercased, for exact matching

    @property
    def lexical_text(self) -> str:
        """The query plus its glossary expansions, for BM25."""
        return " ".join([self.text, *self.expansions])


def analyze(query: str, glossary: Glossary | None, *, translate: bool = False) -> QueryPlan:
    """Language, small talk, code identifiers and (with a glossary) expansions of one query."""
    language = query_language(query)
    if is_small_talk(query):
        return QueryPlan(query, language, True)
    found = identifiers(query)
    if glossary is None:
        return QueryPlan(query, language, False, identifiers=found)
    expansions = tuple(glossary.expansions(query))
    translation = ""
    if translate and language == "en" and expansions:
        translation = glossary.translate(query)
    return QueryPlan(query, language, False, expansions, translation, found)


def identifiers(query: str) -> tuple[str, ...]:
    """The code identifiers a query names, lowercased: `HCCL_CONNECT_TIMEOUT`,
    `torch.library.opcheck`, `a::b`, `--cache-max-entry-count`; no repeats."""
    found: dict[str, None] = {}
    for match in _CODE_WORD.finditer(query):
        if _is_identifier(match.group()):
            found.setdefault(match.group().lower(), None)
    return tuple(found)


def _is_identifier(word: str) -> bool:
    """A `_CODE_WORD` match that is code: snake_case, a :: or dotted path, or a --flag."""
    return word.startswith("--") or "_" in word or "::" in word or _dotted(word)


def _dotted(word: str) -> bool:
    """A dotted path of names (torch.cuda.synchronize), not a version (v1.2) or a number."""
    parts = word.split(".")
    # Every part two characters or more: "e.g" and "i.e" are abbreviations.
    return len(parts) > 1 and all(len(p) > 1 and (p[0].isalpha() or p[0] == "_") for p in parts)


def _names(field: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in field.split("|") if name.strip())


def _alternation(names: Collection[str], *, english: bool) -> re.Pattern[str]:
    if not names:
        return re.compile(r"(?!x)x")  # matches nothing
    ordered = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    if not english:
        return re.compile(ordered)
    # Whole words only, with an optional plural: "gradients" finds "gradient".
    return re.compile(rf"(?<![\w-])({ordered})(?:s|es)?(?![\w-])")


@cache
def _bundled() -> Glossary:
    text = resources.files("index").joinpath("data/glossary.tsv").read_text("utf-8")
    return Glossary.parse(text, "index/data/glossary.tsv")
