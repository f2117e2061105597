"""Response bodies, I/O-free: bounded decompression and charset decoding.

The fetcher feeds raw (still compressed) bytes to `BoundedBody`, which refuses to produce
more than the size cap, so a gzip bomb costs at most `limit` bytes of memory.
`decode_body` turns bytes into text even when the page lies about its charset.
"""

from __future__ import annotations

import codecs
import re
import zlib

import charset_normalizer


class BodyTooLarge(Exception):
    """The (decompressed) body would exceed the size cap."""

    where = "fetch ledger: `too_large`"
    cause = "A response, after decompression, is larger than `fetch.max_bytes`."
    fix = (
        "Raise `fetch.max_bytes` if the page really is an article; the rest of the run is "
        "unaffected."
    )


class BadEncoding(Exception):
    """The Content-Encoding is unsupported or the compressed stream is corrupt."""

    where = "fetch ledger: `bad_encoding`"
    cause = (
        "A response uses a Content-Encoding linkrag cannot decode (such as `br`), or its "
        "compressed stream is corrupt or truncated."
    )
    fix = (
        "Run `linkrag ingest` again later (failures are refetched); a server that always "
        "sends `br` cannot be read (see Known limits)."
    )


class TruncatedStream(BadEncoding):
    """The compressed stream ends before its end marker: the body was cut short in transit."""

    where = "fetch ledger: `truncated_body`"
    cause = "A compressed response ended before its end marker: the connection was cut short."
    fix = (
        "Nothing to do: it is retried within the run, and `linkrag ingest` refetches it next time."
    )


class _Inflate:
    """One gzip or deflate layer whose output is capped at `limit` bytes."""

    def __init__(self, kind: str, limit: int) -> None:
        self.kind, self.limit, self.total = kind, limit, 0
        self._d: zlib._Decompress | None = None
        self._pending = b""  # deflate: bytes held until the header says zlib or raw

    def _start(self, data: bytes) -> zlib._Decompress:
        if self.kind == "gzip":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        # "deflate" should be zlib-wrapped, but many servers send raw deflate.
        wrapped = (data[0] & 0x0F) == 8 and (data[0] * 256 + data[1]) % 31 == 0
        return zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)

    def feed(self, data: bytes) -> bytes:
        data, out = self._pending + data, []
        self._pending = b""
        try:
            while data:
                if self._d is None:
                    if len(data) < 2:
                        self._pending = data
                        break
                    self._d = self._start(data)
                # max_length bounds the output of THIS call: the bomb never expands in memory.
                chunk = self._d.decompress(data, self.limit - self.total + 1)
                self._count(chunk)
                out.append(chunk)
                data = self._d.unconsumed_tail
                if self._d.eof:
                    data = self._next_member(self._d.unused_data)
        except zlib.error as exc:
            raise BadEncoding(f"corrupt {self.kind} stream: {exc}") from exc
        return b"".join(out)

    def _next_member(self, rest: bytes) -> bytes:
        # Gzip may concatenate members; trailing NUL padding (seen in the wild) is ignored.
        if self.kind != "gzip" or not rest.strip(b"\x00"):
            return b""
        self._d = None
        return rest

    def _count(self, chunk: bytes) -> None:
        self.total += len(chunk)
        if self.total > self.limit:
            raise BodyTooLarge(f"decompressed body exceeds {self.limit} bytes")

    def finish(self) -> bytes:
        if self._d is None:
            if self._pending or not self.total:
                raise TruncatedStream(f"truncated {self.kind} stream")
            return b""
        try:
            tail = self._d.flush()
        except zlib.error as exc:
            raise BadEncoding(f"corrupt {self.kind} stream: {exc}") from exc
        self._count(tail)
        if not self._d.eof:
            # Cut off in transit (a dropped connection behind a proxy, say): the text so far
            # is part of a page, not the page, and a retry or the next run may get it whole.
            raise TruncatedStream(f"truncated {self.kind} stream ({self.total} bytes inflated)")
        return tail


_ENCODINGS = {"gzip": "gzip", "x-gzip": "gzip", "deflate": "deflate"}


class BoundedBody:
    """Collects a response body from raw chunks, decoding Content-Encoding within `limit`."""

    def __init__(self, content_encoding: str, limit: int) -> None:
        self.limit, self.raw_size, self.size = limit, 0, 0
        names = [n.strip().lower() for n in content_encoding.split(",") if n.strip()]
        names = [n for n in names if n != "identity"]
        unknown = [n for n in names if n not in _ENCODINGS]
        if unknown:
            raise BadEncoding(f"unsupported Content-Encoding {', '.join(unknown)}")
        # Codings are listed in the order applied, so they are undone in reverse.
        self._layers = [_Inflate(_ENCODINGS[n], limit) for n in reversed(names)]
        self._parts: list[bytes] = []

    def feed(self, raw: bytes) -> None:
        self.raw_size += len(raw)
        if self.raw_size > self.limit:
            raise BodyTooLarge(f"body exceeds {self.limit} bytes")
        self._add(raw, 0)

    def _add(self, data: bytes, start: int) -> None:
        for layer in self._layers[start:]:
            data = layer.feed(data)
        self.size += len(data)
        if self.size > self.limit:
            raise BodyTooLarge(f"body exceeds {self.limit} bytes")
        self._parts.append(data)

    def finish(self) -> bytes:
        for i, layer in enumerate(self._layers):
            self._add(layer.finish(), i + 1)
        return b"".join(self._parts)


_CONTROL_BYTES = bytes([*range(9), *range(14, 32)])  # tab, newlines, FF and CR are text


def looks_binary(body: bytes) -> bool:
    """True when the start of `body` holds NUL or many control bytes (not text in any charset
    a web page uses; UTF-16 is caught by its BOM before this matters)."""
    head = body[:2048]
    if not head or head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    return b"\x00" in head or controls > len(head) // 20


_HEADER_CHARSET_RE = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
# Covers both <meta charset=...> and <meta http-equiv="Content-Type" content="...; charset=...">.
_META_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE)
_XML_CHARSET_RE = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([\w.:-]+)""")
# Labels mapped as browsers do (WHATWG Encoding): pages declaring the narrow charsets
# routinely use characters only the superset has.
_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "big5": "big5hkscs",
    "shift_jis": "cp932",
    "sjis": "cp932",
    "euc-kr": "cp949",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
}
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_SNIFF_BYTES = 65536


def _codec(label: str | None) -> str | None:
    """The Python text codec for a charset label, or None when unknown or not a text codec."""
    if not label:
        return None
    label = _ALIASES.get(label.lower(), label.lower())
    try:
        info = codecs.lookup(label)
    except LookupError:
        return None
    return info.name if getattr(info, "_is_text_encoding", True) else None


def declared_charset(content_type: str, body: bytes) -> str | None:
    """The charset a response declares: the header's, else the page's <meta> or XML one."""
    match = _HEADER_CHARSET_RE.search(content_type)
    if match is not None:
        return match.group(1).lower()
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind and "html" not in kind and "xml" not in kind:
        return None
    head = body[:8192]
    found = _META_CHARSET_RE.search(head) or _XML_CHARSET_RE.search(head)
    return found.group(1).decode("ascii", "ignore").lower() if found else None


def _mostly_utf8(body: bytes) -> str | None:
    """UTF-8 text with a few stray bytes (a truncated page), or None if it is not UTF-8."""
    text = body.decode("utf-8", "replace")
    errors = text.count("\ufffd")
    non_ascii = sum(1 for ch in text if ord(ch) > 127)
    return text if errors * 20 < non_ascii - errors else None


def _sniff(body: bytes) -> str | None:
    best = charset_normalizer.from_bytes(body[:_SNIFF_BYTES]).best()
    codec = _codec(best.encoding) if best is not None else None
    # UTF-16/32 without a BOM is a fluke of short byte strings on the web, never a real page.
    return None if codec is None or codec.startswith(("utf-16", "utf-32")) else codec


def decode_body(body: bytes, content_type: str = "") -> str:
    """Text of a response body: BOM, then UTF-8 when the bytes are UTF-8, then the declared
    charset (header, <meta> or XML) when it decodes cleanly, else sniffed.

    Valid UTF-8 wins over a declaration because non-UTF-8 text is almost never valid UTF-8,
    while pages declaring a charset they do not use are common.
    """
    for bom, name in _BOMS:
        if body.startswith(bom):
            return body.decode(name, "replace").lstrip("\ufeff")
    declared = _codec(declared_charset(content_type, body))
    if declared is not None and declared.startswith(("utf-16", "utf-32")):
        return body.decode(declared, "replace")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    single_byte = declared in (None, "cp1252") or (declared or "").startswith(("iso8859", "cp125"))
    if declared is not None and declared != "utf-8" and not single_byte:
        try:
            return body.decode(declared)
        except UnicodeDecodeError:
            pass  # the page lies about its charset (or mixes two): sniff below
    if declared in (None, "utf-8"):
        text = _mostly_utf8(body)
        if text is not None:
            return text
    guess = _sniff(body)
    # Any byte string "decodes" as a single-byte charset, so a declared one only loses to a
    # confident multi-byte guess (GBK bytes declared as ISO-8859-1), not to a short-text fluke.
    if declared is not None and single_byte and not _confident_multibyte(body, guess):
        return body.decode(declared, "replace")
    return body.decode(guess or declared or "utf-8", "replace")


def _confident_multibyte(body: bytes, guess: str | None) -> bool:
    single = ("cp125", "iso8859", "latin", "mac", "koi8", "cp4", "cp8", "tis", "utf-16", "utf-32")
    if guess is None or guess.startswith(single):
        return False
    if sum(1 for b in body[:_SNIFF_BYTES] if b > 127) < 16:
        return False
    try:
        body[:_SNIFF_BYTES].decode(guess)
    except UnicodeDecodeError as exc:
        return exc.start >= _SNIFF_BYTES - 4  # only a character cut by the sample's end
    return True
