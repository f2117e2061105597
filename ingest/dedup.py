"""Deduplication: one article per canonical URL, one per exact text, one per near-same text."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt
from datasketch import MinHash, MinHashLSH

from ingest.urls import canonical_url


def normalize_for_hash(text: str) -> str:
    """Whitespace-collapsed text: layout differences do not make a new article."""
    return " ".join(text.split())


def text_hash(text: str) -> str:
    return hashlib.sha1(normalize_for_hash(text).encode("utf-8")).hexdigest()


class Action(StrEnum):
    NEW = "new"  # a new article
    SAME = "same"  # this URL's article, unchanged: only record the URL as an alias
    UPDATE = "update"  # this URL's article with new text
    DUPLICATE = "duplicate"  # the same text as an article under another canonical URL


@dataclass(frozen=True)
class Decision:
    action: Action
    article_id: int | None = None


def decide(by_url: tuple[int, str] | None, by_hash: int | None, new_hash: str) -> Decision:
    """What to do with an extracted article.

    `by_url` is (id, text hash) of the article already stored under the same canonical URL
    (a GitHub blob page and its raw file share one), `by_hash` the id of an article with
    the same text under another URL. The first URL seen stays canonical.
    """
    if by_url is not None:
        article_id, old_hash = by_url
        return Decision(Action.SAME if old_hash == new_hash else Action.UPDATE, article_id)
    if by_hash is not None:
        return Decision(Action.DUPLICATE, by_hash)
    return Decision(Action.NEW)


def group_by_canonical(urls: list[str]) -> dict[str, list[str]]:
    """URLs grouped under their canonical URL, in first-seen order."""
    groups: dict[str, list[str]] = {}
    for url in urls:
        groups.setdefault(canonical_url(url), []).append(url)
    return groups


# Near duplicates: MinHash over character shingles, so Chinese (no spaces) works too.
NUM_PERM = 128
SHINGLE = 5
# Shorter texts are not merged by similarity: two short notes built on one template (a talk
# title plus the same boilerplate links, as in the shared archive) share most shingles
# without being the same post. Jaccard >= threshold bounds the length ratio, so checking the
# new text alone is enough.
NEAR_MIN_CHARS = 500
SCHEME = "affine32"  # named, because stored signatures are only comparable within a scheme
_MULT = np.uint64(1099511628211)  # FNV prime: a rolling hash of SHINGLE code points
_MIX = np.uint64(0xBF58476D1CE4E5B9)  # splitmix64: spreads the rolling hash over 32 bits


def _identity(value: object) -> object:
    return value


def shingle_hashes(text: str) -> npt.NDArray[np.uint32]:
    """Distinct 32-bit hashes of the SHINGLE-character windows of the normalized text.

    Vectorized (numpy over code points): hashing each shingle in Python costs seconds on
    the shared archive; this costs milliseconds, and it is stable across processes.
    """
    normal = normalize_for_hash(text)
    codes = np.frombuffer(normal.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    count = len(codes) - SHINGLE + 1
    if count < 1:
        count, codes = 1, np.pad(codes, (0, SHINGLE - len(codes)))
    rolled = np.zeros(count, dtype=np.uint64)
    for offset in range(SHINGLE):
        rolled = rolled * _MULT + codes[offset : offset + count]
    rolled ^= rolled >> np.uint64(29)
    rolled *= _MIX
    rolled ^= rolled >> np.uint64(32)
    return np.unique((rolled & np.uint64(0xFFFFFFFF)).astype(np.uint32))


def minhash(text: str) -> MinHash:
    sketch = MinHash(num_perm=NUM_PERM, hashfunc=_identity, scheme=SCHEME)
    sketch.update_batch(shingle_hashes(text))
    return sketch


def to_bytes(sketch: MinHash) -> bytes:
    return bytes(np.asarray(sketch.hashvalues).tobytes())


def from_bytes(data: bytes) -> MinHash:
    values = np.frombuffer(data, dtype=np.uint32)
    return MinHash(num_perm=NUM_PERM, hashfunc=_identity, hashvalues=values, scheme=SCHEME)


class NearDuplicates:
    """An LSH index over the stored articles' MinHash signatures.

    `load` is called lazily by the pipeline, only when a new article needs checking, so
    a rerun with nothing new never reads the signatures.
    """

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self._lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        self._sketches: dict[int, MinHash] = {}

    def load(self, stored: list[tuple[int, bytes]]) -> None:
        for article_id, data in stored:
            self.add(article_id, from_bytes(data))

    def add(self, article_id: int, sketch: MinHash) -> None:
        if article_id in self._sketches:
            self._lsh.remove(article_id)
        self._sketches[article_id] = sketch
        self._lsh.insert(article_id, sketch)

    def find(self, sketch: MinHash, exclude: int | None = None) -> tuple[int, float] | None:
        """The most similar indexed article at or above the threshold, and its similarity.

        LSH candidates are checked against the estimated Jaccard similarity, since LSH
        alone lets some pairs below the threshold through.
        """
        best: tuple[int, float] | None = None
        for candidate in self._lsh.query(sketch):
            if candidate == exclude:
                continue
            similarity = float(sketch.jaccard(self._sketches[candidate]))
            if similarity >= self.threshold and (best is None or similarity > best[1]):
                best = (int(candidate), similarity)
        return best
