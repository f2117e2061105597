"""Fixed replies (and, later, LLM prompts), kept as constants so they are easy to review.

Replies are keyed by language code; `reply(kind, language)` falls back to English.
"""

from __future__ import annotations

from index import query_language

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

# Greetings and thanks get this instead of a search: it claims to have found nothing.
SMALL_TALK = {
    "en": "Hello! Ask me about the indexed articles and I will answer with citations.",
    "zh": "你好！可以问我已索引文章里的问题，我会附上引用来回答。",
}

_REPLIES = {
    "no_answer": NO_ANSWER,
    "empty_question": EMPTY_QUESTION,
    "no_index": NO_INDEX,
    "small_talk": SMALL_TALK,
}


def reply(kind: str, language: str) -> str:
    """The fixed reply `kind` in `language` ("zh" or "en"), English when not translated."""
    table = _REPLIES[kind]
    return table.get(language, table["en"])


def question_language(text: str) -> str:
    """ "zh" when the question is mostly Chinese, else "en" (the rule search uses too)."""
    return query_language(text)
