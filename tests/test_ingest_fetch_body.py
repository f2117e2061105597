"""Body handling without a network: bounded decompression and charset decoding."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

import pytest

from ingest.body import BadEncoding, BodyTooLarge, BoundedBody, declared_charset, looks_binary
from ingest.fetch import decode_body

TRAD = "這是一篇關於檢索增強生成的中文文章，講述向量檢索、重排序和引用的原理與實踐。" * 4
TEXT = "这是一篇关于检索增强生成的中文文章，讲述向量检索、重排序和引用的原理与实践。" * 4


def _collect(raw: bytes, encoding: str, limit: int, step: int = 1000) -> bytes:
    body = BoundedBody(encoding, limit)
    for i in range(0, len(raw), step):
        body.feed(raw[i : i + step])
    return body.finish()


@pytest.mark.parametrize(
    ("encoding", "pack"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),  # zlib-wrapped, as the RFC says
        ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw deflate, as many servers send
        ("identity", lambda b: b),
        ("", lambda b: b),
        ("gzip, gzip", lambda b: gzip.compress(gzip.compress(b))),
    ],
)
def test_bounded_body_inflates(encoding: str, pack: object) -> None:
    data = TEXT.encode() * 50
    assert _collect(pack(data), encoding, 1_000_000) == data  # type: ignore[operator]
    assert _collect(pack(data), encoding, 1_000_000, step=1) == data  # type: ignore[operator]


def test_concatenated_gzip_members_and_padding() -> None:
    raw = gzip.compress(b"one ") + gzip.compress(b"two") + b"\x00" * 8
    assert _collect(raw, "gzip", 1000) == b"one two"


def test_gzip_bomb_never_expands_past_the_cap() -> None:
    bomb = gzip.compress(b"\x00" * (64 * 1024 * 1024), compresslevel=9)
    tracemalloc.start()
    with pytest.raises(BodyTooLarge):
        _collect(bomb, "gzip", 1_000_000, step=65536)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 8_000_000  # the 64 MB of zeros were never materialised


def test_raw_size_is_capped_too() -> None:
    with pytest.raises(BodyTooLarge):
        _collect(b"x" * 5000, "", 4096)


def test_bad_encodings() -> None:
    with pytest.raises(BadEncoding, match="unsupported Content-Encoding br"):
        BoundedBody("br", 1000)
    with pytest.raises(BadEncoding, match="corrupt"):
        _collect(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xff\xff\xff", "gzip", 1000)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (TEXT.encode("gbk"), "text/html; charset=gbk"),  # declared right
        (TEXT.encode("gb18030"), "text/html; charset=gb2312"),  # narrow label, wide bytes
        (TEXT.encode("gbk"), "text/html; charset=utf-8"),  # declared wrong
        (TEXT.encode("gbk"), "text/html; charset=iso-8859-1"),  # declared wrong, single byte
        (TEXT.encode(), "text/html; charset=gbk"),  # UTF-8 declared as GBK
        (TEXT.encode("gbk"), "text/html"),  # undeclared: sniffed
        (TRAD.encode("big5"), "text/plain"),  # undeclared, another CJK charset
        (TEXT.encode("utf-16"), "text/html; charset=utf-8"),  # a BOM beats the header
        (TEXT.encode("gbk"), "text/html; charset=no-such-charset"),
    ],
)
def test_decode_body_finds_the_real_charset(body: bytes, content_type: str) -> None:
    text = decode_body(body, content_type)
    assert TEXT in text or TRAD in text


def test_meta_charsets_are_read_when_the_header_has_none() -> None:
    meta = f'<html><head><meta charset="gbk"></head><body>{TEXT}</body></html>'
    equiv = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=GB2312">'
        f"</head><body>{TEXT}</body></html>"
    )
    for html in (meta, equiv):
        assert declared_charset("text/html", html.encode("gbk")) in ("gbk", "gb2312")
        assert TEXT in decode_body(html.encode("gbk"), "text/html")
        assert TEXT in decode_body(html.encode("gbk"))  # local files: no content type
    assert declared_charset("text/html; charset=UTF-8", b'<meta charset="gbk">') == "utf-8"
    assert declared_charset("text/plain", b'<meta charset="gbk">') is None


def test_cp1252_and_stray_bytes() -> None:
    assert decode_body("café".encode("cp1252"), "text/html; charset=iso-8859-1") == "café"
    # A UTF-8 page cut mid-character keeps its text rather than being re-guessed.
    cut = (TEXT * 3).encode()[:-1]
    assert decode_body(cut, "text/html; charset=utf-8").startswith(TEXT * 2)
    assert decode_body(b"", "text/html") == ""


def test_looks_binary() -> None:
    assert looks_binary(bytes(range(256)))
    assert looks_binary(b"%PDF-1.7\n\x00\x01\x02")
    assert not looks_binary(TEXT.encode("gbk"))
    assert not looks_binary("<p>héllo\tworld\r\n</p>".encode())
    assert not looks_binary(TEXT.encode("utf-16"))
