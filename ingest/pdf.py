"""Text and metadata of a PDF, via pypdf. Pure: bytes in, text out."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

import pypdf

log = logging.getLogger(__name__)

_TITLE_MAX = 150  # a "first line" longer than this is a paragraph, not a title


class PdfError(Exception):
    """A PDF that cannot be read: damaged, encrypted, or not a PDF at all."""

    where = "fetch ledger: skipped as `unsupported`"
    cause = "A fetched PDF is damaged, encrypted or not a PDF at all."
    fix = (
        "Nothing stops: the link is listed by `linkrag status`. To include it, save a "
        "readable copy into a `dir:` source."
    )


@dataclass
class PdfText:
    text: str  # pages in order, separated by a blank line
    pages: int
    title: str | None = None  # from the document info
    first_line: str | None = None
    author: str | None = None
    date: str | None = None


def _info(reader: pypdf.PdfReader) -> tuple[str | None, str | None, str | None]:
    """(title, author, creation date) from the document info, each None when absent or broken."""
    try:
        meta = reader.metadata
        if meta is None:
            return None, None, None
        title = " ".join(str(meta.title or "").split()) or None
        author = " ".join(str(meta.author or "").split()) or None
    except Exception:  # a damaged info dictionary loses the metadata, not the text
        return None, None, None
    try:
        created = meta.creation_date
    except Exception:  # pypdf raises on malformed D:YYYY... strings
        created = None
    return title, author, created.date().isoformat() if created else None


def read_pdf(body: bytes) -> PdfText:
    """Text of every page and the document's metadata; PdfError with a one-line reason."""
    try:
        reader = pypdf.PdfReader(io.BytesIO(body))
        if reader.is_encrypted and not reader.decrypt(""):
            raise PdfError("encrypted PDF (a password is needed)")
        pages = [page.extract_text() or "" for page in reader.pages]
    except PdfError:
        raise
    # pypdf raises many exception types on damaged files; any of them means "unreadable".
    except Exception as exc:
        raise PdfError(f"unreadable PDF ({type(exc).__name__}: {exc})".split("\n")[0]) from exc
    texts = [text.strip() for text in pages]
    text = "\n\n".join(t for t in texts if t)
    first = next((line.strip() for line in text.split("\n") if line.strip()), None)
    title, author, date = _info(reader)
    return PdfText(
        text=text,
        pages=len(pages),
        title=title,
        first_line=first if first and len(first) <= _TITLE_MAX else None,
        author=author,
        date=date,
    )
