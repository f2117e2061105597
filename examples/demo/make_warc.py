"""Write the demo site and its reading list into a WARC, so the demo builds with no network.

Usage: python examples/demo/make_warc.py OUT.warc.gz

Every file under site/ becomes an HTTP response record for
https://demo.linkrag.invalid/<path>, and reading-list.md is served at
https://demo.linkrag.invalid/reading-list.md. The output is byte-for-byte reproducible:
records are sorted by URL, and record ids, dates and ETags derive from the content,
not from the clock, so rebuilding the archive never looks like a content change.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from io import BytesIO
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

BASE_URL = "https://demo.linkrag.invalid/"
HERE = Path(__file__).resolve().parent
SITE_DIR = HERE / "site"
READING_LIST = HERE / "reading-list.md"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
}
# A fixed crawl time keeps the archive reproducible; Last-Modified sits a few days earlier.
CRAWL_TIME = datetime(2025, 1, 15, 8, 0, 0, tzinfo=UTC)


def site_entries(
    site_dir: Path = SITE_DIR, reading_list: Path = READING_LIST
) -> list[tuple[str, Path]]:
    """(url, file) for every servable file plus the reading list, sorted by URL."""
    entries = [
        (BASE_URL + path.relative_to(site_dir).as_posix(), path)
        for path in site_dir.rglob("*")
        if path.is_file() and path.suffix in CONTENT_TYPES
    ]
    entries.append((BASE_URL + "reading-list.md", reading_list))
    return sorted(entries)


def _http_headers(body: bytes, content_type: str, index: int) -> StatusAndHeaders:
    digest = hashlib.sha1(body).hexdigest()
    modified = CRAWL_TIME - timedelta(days=30 + index)
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("Date", format_datetime(CRAWL_TIME, usegmt=True)),
        ("Last-Modified", format_datetime(modified, usegmt=True)),
        ("ETag", f'"{digest[:16]}"'),
        ("Server", "linkrag-demo"),
    ]
    return StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1")


def _records(writer: WARCWriter, entries: list[tuple[str, Path]]) -> Iterator[object]:
    for index, (url, path) in enumerate(entries):
        body = path.read_bytes()
        record_id = uuid.uuid5(uuid.NAMESPACE_URL, url + hashlib.sha1(body).hexdigest())
        warc_headers = {
            "WARC-Record-ID": f"<urn:uuid:{record_id}>",
            "WARC-Date": CRAWL_TIME.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        yield writer.create_warc_record(
            url,
            "response",
            payload=BytesIO(body),
            length=len(body),
            warc_headers_dict=warc_headers,
            http_headers=_http_headers(body, CONTENT_TYPES[path.suffix], index),
        )


def write_warc(out: Path, site_dir: Path = SITE_DIR, reading_list: Path = READING_LIST) -> int:
    """Write the archive to `out` (gzipped when it ends in .gz); return the record count."""
    entries = site_entries(site_dir, reading_list)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as stream:
        writer = WARCWriter(stream, gzip=out.name.endswith(".gz"))
        for record in _records(writer, entries):
            writer.write_record(record)
    return len(entries)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the linkrag demo site into a WARC file.")
    parser.add_argument("out", type=Path, help="output path, e.g. demo.warc.gz")
    args = parser.parse_args(argv)
    count = write_warc(args.out)
    print(f"wrote {count} response records to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
