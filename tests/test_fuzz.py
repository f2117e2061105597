"""Fuzzing with hypothesis: parsers, loaders and the citation checker take random and
malformed unicode and bytes, fail only with their documented error type, and keep their
invariants.

200 examples per target in the default tier and 2,000 in the slow tier, both derandomized so
CI is repeatable; LINKRAG_FUZZ_RANDOM=1 makes the slow tier explore fresh inputs.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant import ConfigError, load_config
from assistant.checking import check_citations
from index import Chunk, IndexSettings, chunk_article, tokenize
from ingest import Article, FetchResult, canonical_url, parse_reading_list
from ingest.archive import WarcRecorder, WarcReplay
from ingest.urls import url_problem

_SCHEMES = st.sampled_from(["http", "https", "HTTP", "ftp", "javascript", ""])
_HOSTS = st.one_of(
    st.sampled_from(["github.com", "zhuanlan.zhihu.com", "mp.weixin.qq.com", "[::1]", "例子.中国"]),
    st.text(max_size=20),
)
_URL_PARTS = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
URLS = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda s, h, p, q, f: f"{s}://{h}/{p}?{q}#{f}", _SCHEMES, _HOSTS, _URL_PARTS, _URL_PARTS,
        _URL_PARTS,
    ),
    st.builds(lambda h, p: f"https://{h}/{p}?utm_source=x&spm=1&id=2", _HOSTS, _URL_PARTS),
)  # fmt: skip
_LINE = st.one_of(
    st.builds(lambda a, u: f"- [{a}]({u})", st.text(max_size=20), URLS),
    st.builds(lambda n, t: "#" * n + " " + t, st.integers(1, 7), st.text(max_size=20)),
    st.builds(lambda u: f"<a href='{u}'>x</a>", URLS),
    st.text(max_size=60),
)
READING_LISTS = st.lists(_LINE, max_size=30).map("\n".join)
MARKDOWN = st.lists(
    st.one_of(
        st.text(max_size=300),
        st.sampled_from(["\n```\n", "\n# h\n", "\n| a | b |\n", "。", ". ", "\n- x\n", "\n\n"]),
    ),
    max_size=40,
).map("".join)


def check_canonical_url(url: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once  # idempotent
    if url_problem(once) is None:
        names = [name.lower() for name, _ in parse_qsl(urlsplit(once).query, True)]
        assert "#" not in once and not any(name.startswith("utm_") for name in names)


def check_reading_list(text: str) -> None:
    # Malformed links are kept on purpose (the ledger records them as bad_url), so the
    # invariants are about shape and uniqueness, not validity.
    links = parse_reading_list(text, "fuzz.md")
    keys = [(canonical_url(link.url), link.section) for link in links]
    assert len(set(keys)) == len(keys)
    for link in links:
        assert link.url and link.url == link.url.strip() and "\n" not in link.url
        assert all(part for part in link.section) and "\n" not in link.anchor


def check_chunker(text: str) -> None:
    article = Article(url="https://example.org/fuzz", title="t", text=text, id=1)
    for size in (100, 600):
        chunks = chunk_article(article, IndexSettings(chunk_size=size, chunk_overlap=size // 4))
        for chunk in chunks:
            assert text[chunk.start : chunk.end] == chunk.text
            assert 0 < len(chunk.text) <= size
        covered = {i for c in chunks for i in range(c.start, c.end)}
        words = [i for i, ch in enumerate(text) if ch.isalnum()]
        # Every word character outside heading lines and fences is in some chunk.
        assert len(covered.intersection(words)) >= 0.5 * len(words) - text.count("#") * 40 - 200


def check_tokenizer(text: str) -> None:
    tokens = tokenize(text)
    assert all(token and token == token.strip() and token == token.lower() for token in tokens)


def check_config(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.yaml"
        path.write_bytes(raw)
        try:
            load_config(path, env={})
        except ConfigError as exc:
            assert "\n" not in str(exc).strip()  # one line


def _warc_bytes() -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "a.warc.gz"
        recorder = WarcRecorder(path)
        for n in range(3):
            body = f"# Post {n}\n\n正文 {n}。".encode()
            url = f"https://example.org/{n}"
            recorder.write(FetchResult(url=url, status=200, content_type="text/md", body=body))
        recorder.close()
        return path.read_bytes()


WARC = _warc_bytes()
WARC_MUTATIONS = st.one_of(
    st.binary(max_size=2000),
    st.integers(0, len(WARC)).map(lambda n: WARC[:n]),
    st.tuples(st.integers(0, len(WARC) - 1), st.binary(min_size=1, max_size=8)).map(
        lambda m: WARC[: m[0]] + m[1] + WARC[m[0] + len(m[1]) :]
    ),
)


def check_warc(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.warc.gz"
        path.write_bytes(raw)
        with WarcReplay(path) as replay:
            for url in replay.urls():
                assert isinstance(replay.fetch(url), FetchResult)
            assert replay.fetch("https://example.org/missing").error_kind == "replay_miss"


_CLAIM_PARTS = st.one_of(
    st.text(max_size=40),
    st.integers(-1, 12).map(lambda n: f"[{n}]"),
    st.sampled_from(
        ["。", ". ", "\n", " [", "]", "KV cache 占显存", "ZeRO-3 shards 8 GPUs", "1.5"]
    ),
    st.just("ZeRO-3 把参数切到 8 张卡上"),  # a claim the stock passage supports
)
ANSWERS = st.tuples(
    st.lists(_CLAIM_PARTS, max_size=30).map("".join),
    st.lists(
        st.one_of(st.text(min_size=1, max_size=120), st.just("ZeRO-3 把参数切到 8 张卡上。")),
        min_size=0,
        max_size=5,
    ),
)


def check_citation_checker(case: tuple[str, list[str]]) -> None:
    answer, texts = case
    chunks = [
        Chunk(f"c{n}", n, f"https://e.org/{n}", "t", "", text, 10 * n, 10 * n + len(text))
        for n, text in enumerate(texts, 1)
    ]
    result = check_citations(answer, chunks)
    for citation in result.citations:
        chunk = chunks[citation.n - 1]  # never an out-of-range passage
        assert citation.start is not None and citation.end is not None
        assert (
            chunk.text[citation.start - chunk.start : citation.end - chunk.start] == citation.quote
        )
        assert citation.quote and citation.chunk_id == chunk.chunk_id
    assert all(not 1 <= n <= len(chunks) for n in result.dropped)
    # No marker survives that names no passage (a model's [7] of five is never shown).
    survivors = [int(m) for m in re.findall(r"\[(\d+)\]", result.text)]
    assert all(1 <= n <= len(chunks) for n in survivors), result.text


TARGETS: dict[str, tuple[st.SearchStrategy[Any], Callable[[Any], None]]] = {
    "canonical_url": (URLS, check_canonical_url),
    "reading_list": (READING_LISTS, check_reading_list),
    "chunker": (MARKDOWN, check_chunker),
    "tokenizer": (st.text(max_size=300), check_tokenizer),
    "config": (st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)),
               check_config),
    "warc": (WARC_MUTATIONS, check_warc),
    "citation_checker": (ANSWERS, check_citation_checker),
}  # fmt: skip


def _fuzz(name: str, examples: int, derandomize: bool) -> None:
    strategy, check = TARGETS[name]
    run = settings(
        max_examples=examples,
        deadline=None,
        derandomize=derandomize,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )(given(strategy)(check))
    run()


@pytest.mark.parametrize(
    ("name", "example"),
    [  # inputs the slow tier once found
        ("canonical_url", "HTTP://UTM_SOURCE"),
        ("canonical_url", "HTTP://0?0utm_source"),
        ("canonical_url", "https://x.org/?UTM_Source=a&id=1#frag"),
        ("reading_list", "- [<BODY](>)\n<A HREF='A://\n0'>"),
        ("reading_list", "<HTML"),
        ("config", b"\x80"),
    ],
)
def test_fuzz_findings_stay_fixed(name: str, example: Any) -> None:
    TARGETS[name][1](example)


@pytest.mark.parametrize("name", TARGETS)
def test_fuzz(name: str) -> None:
    _fuzz(name, 200, derandomize=True)


@pytest.mark.slow
@pytest.mark.parametrize("name", TARGETS)
def test_fuzz_long(name: str) -> None:
    # Deterministic in CI, so a red build always means a change broke something; set
    # LINKRAG_FUZZ_RANDOM=1 to explore fresh inputs (and pin what it finds above).
    _fuzz(name, 2000, derandomize=os.environ.get("LINKRAG_FUZZ_RANDOM", "") in ("", "0"))
