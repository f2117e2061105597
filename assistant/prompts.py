"""Fixed replies (and, later, LLM prompts), kept as constants so they are easy to review.

Replies are keyed by language code; `reply(kind, language)` falls back to English.
"""

from __future__ import annotations

NO_ANSWER = {
    "en": "The indexed articles do not cover this question.",
    "zh": "已索引的文章中没有找到这个问题的答案。",
}

EMPTY_QUESTION = {
    "en": "Please ask a question.",
    "zh": "请输入一个问题。",
}

NO_INDEX = {
    "en": "There is no index yet. Run `linkrag build` to fetch the articles and index them.",
    "zh": "还没有索引。请先运行 `linkrag build` 抓取并索引文章。",
}

_REPLIES = {"no_answer": NO_ANSWER, "empty_question": EMPTY_QUESTION, "no_index": NO_INDEX}


def reply(kind: str, language: str) -> str:
    """The fixed reply `kind` in `language` ("zh" or "en"), English when not translated."""
    table = _REPLIES[kind]
    return table.get(language, table["en"])


def question_language(text: str) -> str:
    """ "zh" when the question is mostly Chinese, else "en".

    Counts CJK ideographs against Latin letters, because mixed questions such as
    "ZeRO-3 怎么切分参数？" are Chinese questions about English terms.
    """
    cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf")
    latin = sum(1 for ch in text if ch.isascii() and ch.isalpha())
    return "zh" if cjk and cjk * 3 >= latin else "en"
