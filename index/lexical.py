"""BM25 over mixed Chinese/English tokens: jieba search mode for Chinese, identifiers kept whole."""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from index.tokens import TokenTable

_CJK_RUN = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)")
# Identifiers survive whole (ZeRO-3, CUDA_VISIBLE_DEVICES, v2.0, C++); a trailing
# sentence dot is not part of the word because [-.+] must be followed by a word char.
_WORD = re.compile(r"\w+(?:[-.+]\w+)*\+*")
_PARTS = re.compile(r"[^\W_]+")
_EN_STOPWORDS = "a an and are as at be by for from how in is it of on or the this to what with"
_ZH_STOPWORDS = "的 了 是 在 和 与 及 或 也 就 都 而 这 那 之 其 于 为 吗 呢 吧 啊"
_STOPWORDS = frozenset(_EN_STOPWORDS.split()) | frozenset(_ZH_STOPWORDS.split())
# Question words and fillers of Chinese questions ("为什么…能…吗？"). Articles use them too,
# so they match everywhere and only blur the ranking; dropped from queries, not documents
# (no rebuild). On the tune split they lifted BM25-only recall@5 from 0.909 to 0.932.
_ZH_QUESTION_TEXT = (
    "什么 怎么 怎样 怎么样 为什么 为何 如何 哪些 哪个 哪 多少 几 几个 能 能否 可以 有 会 要 用 做"
    " 一个 我 我们 你 它 这个 那个 这种 那种 这些 那些 时 时候 的话 是否 还是 又 请问 一下 到底"
    " 大概 一般 主要 分别 各自"
)
_ZH_QUESTION_WORDS = frozenset(_ZH_QUESTION_TEXT.split())

# Bump when tokenization changes; stored BM25 tokens of older indexes are then re-made.
TOKENIZER_VERSION = 1

_jieba_lock = threading.Lock()
_user_words_loaded = False


def tokenize(text: str) -> list[str]:
    """Lowercased search tokens of a mixed zh/en text; punctuation and stopwords dropped.

    Compound identifiers also yield their parts ("zero-3" → "zero-3", "zero", "3"), so a
    query naming only a part still matches.
    """
    tokens: list[str] = []
    for i, part in enumerate(_CJK_RUN.split(text.lower())):
        if i % 2:
            tokens.extend(_cut_chinese(part))
            continue
        for word in _WORD.findall(part):
            tokens.append(word)
            pieces = _PARTS.findall(word)
            if len(pieces) > 1:
                tokens.extend(pieces)
    return [t for t in tokens if t not in _STOPWORDS]


def query_tokens(text: str) -> list[str]:
    """`tokenize` for a search query: Chinese question words dropped as well."""
    return [t for t in tokenize(text) if t not in _ZH_QUESTION_WORDS]


def tokenizer_id() -> str:
    """Names the tokenizer: its version plus a hash of the user dictionary it loads."""
    words = resources.files("index").joinpath("data/llm_terms.txt").read_bytes()
    return f"{TOKENIZER_VERSION}:{hashlib.sha1(words).hexdigest()[:12]}"


@lru_cache(maxsize=8192)
def _cut_chinese(run: str) -> tuple[str, ...]:
    """jieba's search-mode words of one run of ideographs.

    Cached because runs repeat: every chunk embeds its title and heading path, and
    overlapping chunks share text. On the archive's 12,702 chunks this cut tokenizing
    from 8.4 to 6.2 CPU s with identical tokens (a build without the embedder spends 42%
    of its time here).
    """
    import jieba  # deferred: jieba builds its prefix dictionary on first use

    _load_user_words(jieba)
    return tuple(t for t in jieba.lcut_for_search(run) if t.strip())


def _load_user_words(jieba: object) -> None:
    """Teach jieba the LLM vocabulary once per process (大模型, 张量并行, …)."""
    global _user_words_loaded
    with _jieba_lock:
        if _user_words_loaded:
            return
        words = resources.files("index").joinpath("data/llm_terms.txt").read_text("utf-8")
        for word in words.split():
            jieba.add_word(word)  # type: ignore[attr-defined]
        _user_words_loaded = True


class LexicalIndex:
    """A bm25s index whose document i is chunk i of the index folder."""

    def __init__(self, model: object) -> None:
        self._model = model

    @classmethod
    def build(cls, corpus: TokenTable | Sequence[Sequence[str]]) -> LexicalIndex:
        """Document i is row i. bm25s gets token ids: from strings it would build a second
        copy of the corpus as lists of ints, numbered in hash order."""
        import bm25s
        from bm25s.tokenization import Tokenized

        table = corpus if isinstance(corpus, TokenTable) else TokenTable.of(corpus)
        model = bm25s.BM25()
        # bm25s adds the empty token to the vocabulary it is given
        model.index(Tokenized(table.id_rows(), dict(table.vocab)), show_progress=False)
        return cls(model)

    @classmethod
    def load(cls, folder: Path, *, mmap: bool = False) -> LexicalIndex:
        """The saved index; `mmap` leaves its score matrix on disk, paged in by the OS, so a
        large index costs little RAM and many processes share one copy."""
        import bm25s

        return cls(bm25s.BM25.load(str(folder), mmap=mmap, show_progress=False))

    def save(self, folder: Path) -> None:
        self._model.save(str(folder), show_progress=False)  # type: ignore[attr-defined]

    def search(
        self, query_tokens: list[str], k: int, rows: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Top `k` (chunk index, BM25 score) pairs with a positive score, best first.

        With `rows`, every other chunk scores 0 and so drops out.
        """
        vocab: dict[str, int] = self._model.vocab_dict  # type: ignore[attr-defined]
        ids = [vocab[t] for t in query_tokens if t in vocab]
        if not ids or k <= 0:
            return []
        scores = np.asarray(self._model.get_scores(ids))  # type: ignore[attr-defined]
        if rows is not None:
            allowed = np.zeros_like(scores)
            allowed[rows] = scores[rows]
            scores = allowed
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]
