"""Candidate sentences of retrieved passages: verbatim spans, split, trimmed and filtered.

Every candidate is `hit.chunk.text[start:end]`, so whatever the answerer picks can be
cited with an exact quote. Prose is the normal candidate; a command line inside a code
block is one only when it names the question's identifiers (a "how do I run X" answer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index import Hit

_ENDERS = "。！？；!?"
_CLOSERS = "”’」』）)\"'"
_CODE_FENCE = re.compile(r"^\s*(```|~~~).*?(^\s*(```|~~~)|\Z)", re.MULTILINE | re.DOTALL)
_LEAD_MARKUP = re.compile(r"^(?:\s|>|[-*+]\s|\d{1,3}[.)]\s)+")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
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
# More code out of a fence: a line continued on the next (ending in "(", ",", "\", "{"),
# kernel launches, braces, "//" comments, CLI help ("--flag VALUE"), JSON keys, log rows.
_CODE_MARKS = re.compile(r"[(,\\{\[=]$|<<<|(?:^|\s)//|[{}]|::\w|^--?\w|^\"[\w.-]+\"\s*:|\|.*\|")
_SYMBOLS = re.compile(r"[=<>{}\[\]();*/\\|&^%$#@~_]")
_MAX_SYMBOL_SHARE = 0.12  # prose has few of these; code and logs many
# A shell command: what a "how do I serve / install / launch" question is answered with.
_COMMAND = re.compile(
    r"^(?:\$\s*)?(?:pip3?|python3?|uv|conda|docker|curl|export|torchrun|deepspeed|"
    r"accelerate|vllm|sglang|git|bash|sh|make|cmake|[A-Z_]+=\S+\s+\S)\b"
)
_MIN_INFORMATION = 15  # CJK characters + 3 per English word
_MAX_SENTENCE_CHARS = 400
_MAX_COMMAND_CHARS = 200


@dataclass(frozen=True)
class Sentence:
    """A candidate sentence: a verbatim span `text == hit.chunk.text[start:end]`."""

    passage: int  # index of the hit in the retrieved list
    start: int
    end: int
    text: str
    command: bool = False  # a command line from a code block, not prose


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


def information(text: str) -> int:
    """Content size: CJK characters plus 3 per English word (links read as their label)."""
    prose = _LINK.sub(r"\1", text)
    return len(_CJK.findall(prose)) + 3 * len(_WORD.findall(prose))


def _is_answer_like(text: str) -> bool:
    """Headings, table rows, link lines, log output and fragments make poor answers."""
    # A line opening with a link is a reference-list entry, not a statement.
    if text.startswith(("#", "|", "<", "[", "```")) or len(text) > _MAX_SENTENCE_CHARS:
        return False
    prose = _LINK.sub(r"\1", text)
    if _URL.search(prose) or _NOISE.search(prose) or looks_like_code(prose):
        return False
    return information(text) >= _MIN_INFORMATION


def looks_like_code(text: str) -> bool:
    """Code, shell or log output outside a fence (inline `code` spans do not count)."""
    bare = re.sub(r"`[^`]*`", "x", text)
    if _CODE_LIKE.search(bare) or _CODE_MARKS.search(bare):
        return True
    # Chinese prose around a formula ("以 1-p(x)/q(x) 的概率拒绝") is still prose.
    prose = len(_CJK.findall(bare)) >= _MIN_INFORMATION
    return not prose and len(_SYMBOLS.findall(bare)) > _MAX_SYMBOL_SHARE * max(1, len(bare))


def _code_blocks(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _CODE_FENCE.finditer(text)]


def candidate_sentences(hits: list[Hit]) -> list[Sentence]:
    """Answer-like sentences of every passage, outside code blocks, without repeats."""
    out: list[Sentence] = []
    seen: set[tuple[str, str]] = set()
    for passage, hit in enumerate(hits):
        text = hit.chunk.text
        code = _code_blocks(text)
        for start, end in sentence_spans(text):
            piece = text[start:end]
            in_code = any(s <= start < e for s, e in code)
            key = (hit.chunk.url, " ".join(piece.split()))
            if in_code or key in seen or not _is_answer_like(piece):
                continue
            seen.add(key)
            out.append(Sentence(passage, start, end, piece))
    return out


def command_lines(hits: list[Hit], identifiers: set[str]) -> list[Sentence]:
    """Shell command lines in code blocks that name one of the question's `identifiers`
    (lowercased), such as `pip install 'llama-cpp-python[server]'`."""
    out: list[Sentence] = []
    seen: set[str] = set()
    if not identifiers:
        return out
    for passage, hit in enumerate(hits):
        text = hit.chunk.text
        for block_start, block_end in _code_blocks(text):
            for start, end in sentence_spans(text[block_start:block_end]):
                piece = text[block_start + start : block_start + end]
                lowered = piece.lower()
                if len(piece) > _MAX_COMMAND_CHARS or piece in seen or not _COMMAND.match(piece):
                    continue
                if any(term in lowered for term in identifiers):
                    seen.add(piece)
                    at = block_start + start
                    out.append(Sentence(passage, at, block_start + end, piece, command=True))
    return out
