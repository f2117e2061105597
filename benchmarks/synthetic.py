"""Synthetic articles with the archive's length and language mix, deterministic by seed.

Lengths are lognormal(mu=8.02, sigma=1.55) characters clipped to [200, 150000], fitted on the
610 articles of the shared archive (median 3.4k, mean 8.9k characters); 46% are Chinese-led
(as in the archive), the rest English; a `##` heading every ~900 characters and a fenced code
block per ~1.6k characters (archive: 1.1 headings and 0.64 code blocks per 1k characters).
Words follow a Zipf law over a 20k-word vocabulary; Chinese sentences (80% of a Chinese-led
article's) use the 10k most frequent words of jieba's dictionary by frequency, so 15% of all
characters are CJK (archive: 17%) and BM25 tokenizes ~500k characters/s as on the archive
(random characters would take 3x longer). 1,000 articles (seed 8) make 23,187 chunks with the
default chunking: 23.2 per article (archive: 20.8; the sample's mean length is 10.6k).
"""

from __future__ import annotations

import itertools
import os
import random
import shutil
from pathlib import Path

import jieba

LOG_MU, LOG_SIGMA, MIN_CHARS, MAX_CHARS = 8.02, 1.55, 200, 150_000
ZH_SHARE, HEADING_EVERY, CODE_EVERY = 0.46, 900, 1600
ZH_SENTENCES = 0.8  # Chinese-led articles mix in English: 35% of their characters are CJK
JIEBA_DICT = Path(jieba.__file__).with_name("dict.txt")


def _vocabulary(size: int = 20_000) -> tuple[list[str], list[float]]:
    """Pseudo-words and Zipf cumulative weights, the same for every seed."""
    rng = random.Random(0)
    syllables = [a + b for a in "bcdfghklmnprstvz" for b in ("a", "e", "i", "o", "u", "ai", "ou")]
    words = ["".join(rng.choices(syllables, k=rng.randint(1, 4))) for _ in range(size)]
    return words, list(itertools.accumulate(1.0 / (r + 1) for r in range(size)))


def _chinese_words(size: int = 10_000) -> tuple[list[str], list[float]]:
    """The `size` most frequent all-Chinese words of jieba's dictionary, weighted by frequency:
    real words segment like real text (random characters tokenize 3x slower)."""
    entries = []
    for line in JIEBA_DICT.read_text("utf-8").splitlines():
        word, freq = line.split(" ")[:2]
        if all("\u4e00" <= ch <= "\u9fff" for ch in word):
            entries.append((-int(freq), word))
    top = sorted(entries)[:size]
    return [w for _, w in top], list(itertools.accumulate(-f for f, _ in top))


WORDS, WEIGHTS = _vocabulary()
ZH_WORDS, ZH_WEIGHTS = _chinese_words()


def _sentence(rng: random.Random, zh: bool) -> str:
    if zh:
        words = rng.choices(ZH_WORDS, cum_weights=ZH_WEIGHTS, k=rng.randint(5, 16))
        words.insert(rng.randint(0, len(words)), f" {rng.choices(WORDS, cum_weights=WEIGHTS)[0]} ")
        return "".join(words).strip() + "。"
    words = rng.choices(WORDS, cum_weights=WEIGHTS, k=rng.randint(6, 22))
    return " ".join(words).capitalize() + "."


def _code(rng: random.Random) -> str:
    lines = [f"    {rng.choice(WORDS)} = {rng.choice(WORDS)}({rng.randint(0, 999)})"
             for _ in range(rng.randint(2, 8))]  # fmt: skip
    return "```python\ndef " + rng.choice(WORDS) + "():\n" + "\n".join(lines) + "\n```"


def make_article(index: int, seed: int) -> str:
    """Article `index` of the corpus for `seed`: the same text on every run."""
    rng = random.Random(seed * 1_000_003 + index)
    target = int(min(MAX_CHARS, max(MIN_CHARS, rng.lognormvariate(LOG_MU, LOG_SIGMA))))
    zh = rng.random() < ZH_SHARE
    parts = [f"# {_sentence(rng, zh).rstrip('.。')} {index}\n"]
    size, next_heading, next_code = 0, HEADING_EVERY, CODE_EVERY
    while size < target:
        if size >= next_heading:
            parts.append("## " + " ".join(rng.choices(WORDS, cum_weights=WEIGHTS, k=3)))
            next_heading += HEADING_EVERY
        if size >= next_code:
            parts.append(_code(rng))
            next_code += CODE_EVERY
        paragraph = " ".join(
            _sentence(rng, zh and rng.random() < ZH_SENTENCES) for _ in range(rng.randint(2, 6))
        )
        parts.append(paragraph)
        size += len(paragraph)
    return "\n\n".join(parts) + "\n"


def make_corpus(root: Path, articles: int, seed: int) -> Path:
    """A folder of `articles` markdown files; files are generated once and hard-linked."""
    pool = root / f"pool-{seed}"
    pool.mkdir(parents=True, exist_ok=True)
    folder = root / f"corpus-{seed}-{articles}"
    if folder.is_dir() and len(list(folder.iterdir())) == articles:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for i in range(articles):
        source = pool / f"a{i:07d}.md"
        if not source.exists():
            source.write_text(make_article(i, seed), "utf-8")
        os.link(source, folder / source.name)
    return folder
