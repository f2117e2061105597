"""BM25 tokens of many chunks as int32 ids into one vocabulary.

As a list of lists of str, a build's tokens cost ~8 KB a chunk (a str object and a pointer
per token, ~120 tokens a chunk): half of the driver's memory at 10k articles. Here a token
costs 4 bytes plus its share of the vocabulary, and bm25s indexes the ids directly.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence


class TokenTable:
    """Row i holds the tokens of chunk i. Ids number words in order of first appearance, so
    the same rows give the same vocabulary whatever order a build tokenized them in."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self.words: list[str] = []
        self._ids = array("i")
        self._ends = array("q", [0])

    @classmethod
    def of(cls, rows: Iterable[Sequence[str]]) -> TokenTable:
        table = cls()
        for row in rows:
            table.append(row)
        return table

    def __len__(self) -> int:
        return len(self._ends) - 1

    def append(self, tokens: Iterable[str]) -> None:
        """Add a row."""
        vocab, words = self.vocab, self.words
        ids = []
        for token in tokens:
            i = vocab.get(token)
            if i is None:
                i = vocab[token] = len(words)
                words.append(token)
            ids.append(i)
        self._ids.extend(ids)
        self._ends.append(len(self._ids))

    def ids(self, row: int) -> list[int]:
        return self._ids[self._ends[row] : self._ends[row + 1]].tolist()

    def tokens(self, row: int) -> list[str]:
        words = self.words
        return [words[i] for i in self.ids(row)]

    def __iter__(self) -> Iterator[list[str]]:
        return (self.tokens(row) for row in range(len(self)))

    def id_rows(self) -> IdRows:
        """The rows as lists of ids, made one at a time (what bm25s indexes)."""
        return IdRows(self)


class IdRows:
    """A TokenTable's rows as id lists: sized and re-iterable, as bm25s needs."""

    def __init__(self, table: TokenTable) -> None:
        self._table = table

    def __len__(self) -> int:
        return len(self._table)

    def __iter__(self) -> Iterator[list[int]]:
        return (self._table.ids(row) for row in range(len(self._table)))
