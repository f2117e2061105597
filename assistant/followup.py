"""Follow-up questions: detect them and make them standalone for retrieval.

"它的显存占用呢？" retrieves nothing useful on its own. A follow-up is a question asked
with chat history that refers back (它/这个/那个/上面/该/这种, it/this/that/they) or is
very short. Without an LLM it is expanded with the user's previous question(s); with
one, the model rewrites it (prompts.CONDENSE_SYSTEM), and any failure of the model
falls back to that expansion.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import NamedTuple

from langchain_core.language_models import BaseChatModel

from assistant.abstention import named_terms
from assistant.prompts import condense_prompt

logger = logging.getLogger(__name__)

History = list[dict[str, str]]

_ZH_REFERENCE = re.compile(
    r"(?<!其)它|这个|那个|这种|那种|这些|那些|上面|上述|前面提到|(?<![应活本])该"
)
_EN_REFERENCE = re.compile(
    r"\b(?:it|its|they|them|their)\b|\b(?:this|that|these|those)\b"
    r"(?=\s*(?:$|[?.!,]|is\b|are\b|does\b|do\b|was\b|mean|work|one\b|approach|method|trick))",
    re.IGNORECASE,
)
_CONTINUATION = re.compile(
    r"^\s*(?:and\b|what about\b|how about\b|also\b|那么?|还有|另外)|呢\s*[？?]?\s*$", re.IGNORECASE
)
_UNIT = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]|[A-Za-z0-9_][A-Za-z0-9_.\-]*")
SHORT_UNITS = 6  # CJK characters plus words: "为什么？" and "How so?" are follow-ups
_MAX_TURNS = 2  # previous questions borrowed at most
_MAX_REWRITE = 400  # characters; a longer "question" from the model is an answer


class Rewrite(NamedTuple):
    """The retrieval query of a question: `how` is "none", "rule" or "llm"."""

    query: str
    how: str


def _units(question: str) -> int:
    return len(_UNIT.findall(question))


def _standalone_short(question: str) -> bool:
    """A short question naming its own subject ("LoRA 是什么？") stands alone."""
    return bool(named_terms(question)) and not _CONTINUATION.search(question)


def refers_back(question: str) -> bool:
    """Whether the question points at earlier turns or is too short to stand alone."""
    if _ZH_REFERENCE.search(question) or _EN_REFERENCE.search(question):
        return True
    if _CONTINUATION.search(question):
        return True
    return _units(question) <= SHORT_UNITS and not _standalone_short(question)


def _user_turns(question: str, history: History | None) -> list[str]:
    turns = [m.get("content", "").strip() for m in history or [] if m.get("role") == "user"]
    turns = [t for t in turns if t]
    if turns and turns[-1] == question.strip():  # the UI may already hold this question
        turns.pop()
    return turns


def is_follow_up(question: str, history: History | None) -> bool:
    """A question that refers back, asked after at least one earlier user question."""
    return bool(_user_turns(question, history)) and refers_back(question)


def expand(question: str, history: History | None) -> str:
    """The follow-up prefixed with the previous user questions it leans on (rule-based).

    Borrowing stops at the first earlier question that stands alone, so a chain of
    follow-ups keeps its subject without dragging in the whole chat.
    """
    if not is_follow_up(question, history):
        return question
    borrowed: list[str] = []
    for turn in reversed(_user_turns(question, history)):
        borrowed.insert(0, turn)
        if len(borrowed) >= _MAX_TURNS or not refers_back(turn):
            break
    return " ".join([*borrowed, question.strip()])


def _clean(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    first = lines[0] if lines else ""
    first = re.sub(r"^(?:standalone question|question|问题)\s*[:：]\s*", "", first, flags=re.I)
    return first.strip().strip("\"'“”「」")


def condense(question: str, history: History | None, model: BaseChatModel) -> str:
    """The model's standalone rewrite; raises ValueError on an empty or overlong reply."""
    turns = _user_turns(question, history)[-4:]
    listing = "\n".join(f"- {t}" for t in turns)
    messages = condense_prompt().format_messages(history=listing, question=question.strip())
    rewritten = _clean(str(model.invoke(messages).text))
    if not rewritten or len(rewritten) > _MAX_REWRITE:
        raise ValueError(f"unusable rewrite {rewritten[:60]!r}")
    return rewritten


def rewrite(
    question: str,
    history: History | None,
    model: Callable[[], BaseChatModel] | None = None,
) -> Rewrite:
    """The retrieval query: unchanged, expanded by rule, or condensed by the model."""
    if not is_follow_up(question, history):
        return Rewrite(question, "none")
    if model is not None:
        try:
            return Rewrite(condense(question, history, model()), "llm")
        except Exception as exc:  # any model failure: the rule still gives a usable query
            logger.warning("condensing the follow-up failed, expanding by rule: %s", exc)
    return Rewrite(expand(question, history), "rule")
