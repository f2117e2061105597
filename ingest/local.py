"""Local sources: WARC archives and folders, read with no network at all."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ingest.archive import WarcReplay
from ingest.dedup import group_by_canonical
from ingest.extract import Extracted, Skip, extract_page
from ingest.ledger import body_hash
from ingest.sources import SourceError
from ingest.types import FetchResult

if TYPE_CHECKING:
    from ingest.links import LinkRun

_DIR_TYPES = {
    ".md": "text/markdown; charset=utf-8",
    ".markdown": "text/markdown; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".pdf": "application/pdf",
}
# Replay tries these records of one article first: markdown beats an HTML page shell.
_TYPE_RANK = {"text/markdown": 0, "text/x-markdown": 0, "text/plain": 1}
# Only a record that could not be read at all is worth trying the article's next record.
_TRY_NEXT = frozenset({"fetch_error", "unsupported", "empty", "binary"})


def ingest_warc(run: LinkRun, path: Path) -> None:
    """Every response record is a candidate; a blob page and its raw file are one article.

    Records already in the store are skipped, unless re-extracting; with --refresh,
    they are re-read and re-extracted only if their body changed.
    """
    with WarcReplay(path, github_raw=run.fetch_settings.github_raw) as archive:
        if archive.truncated:
            run.report.warnings.append(archive.truncated)
        groups = group_by_canonical(archive.urls())
        known = run.store.known() if run.options.refresh else {}
        done_before = set() if run.options.reextract else run.store.fetched_ok()
        run.progress("extract", 0, len(groups))
        for done, (key, urls) in enumerate(groups.items(), start=1):
            if run.stop.is_set():
                return
            if key in done_before and key not in known:
                run.report.unchanged += 1
            else:
                ranked = sorted(urls, key=lambda u: _TYPE_RANK.get(archive.media_type(u), 9))
                _ingest_group(run, archive, key, ranked)
            run.progress("extract", done, len(groups))


def _ingest_group(run: LinkRun, archive: WarcReplay, key: str, urls: list[str]) -> None:
    outcome: Extracted | Skip = Skip("empty", f"no readable record for {key}")
    result = FetchResult(url=key)
    before = run.store.known([key]).get(key) if run.options.refresh else None
    readable = False
    for url in urls:
        candidate = archive.read(url)
        if not candidate.ok:
            result = result if readable else candidate  # an error record is not extracted
            continue
        result, readable = candidate, True
        if before is not None and body_hash(result.body) == before.content_hash:
            run.report.not_modified += 1
            run.store.record_checked(key, result)
            return
        run.report.extracted += 1
        outcome = extract_page(result, min_chars=run.settings.min_chars)
        if not isinstance(outcome, Skip) or outcome.kind not in _TRY_NEXT:
            break
    if not result.ok:
        run.saver.failed(result, key)
        return
    run.saver.save(result, outcome, key, urls, "")


def ingest_dir(run: LinkRun, folder: Path) -> None:
    """Every .md/.html/.txt/.pdf file; a file whose bytes did not change is not re-read."""
    if not folder.is_dir():
        raise SourceError(f"folder not found: {folder} (check the dir: path)")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in _DIR_TYPES)
    known = {} if run.options.reextract else run.store.known()
    root = folder.resolve()
    run.progress("extract", 0, len(files))
    for done, file in enumerate(files, start=1):
        if run.stop.is_set():
            return
        if not file.resolve().is_relative_to(root):
            _refuse_escape(run, file)
            continue
        uri = file.resolve().as_uri()
        body = file.read_bytes()
        if uri in known and known[uri].content_hash == body_hash(body):
            run.report.unchanged += 1
        else:
            ctype = _DIR_TYPES[file.suffix.lower()]
            result = FetchResult(url=uri, final_url=uri, status=200, content_type=ctype, body=body)
            run.report.extracted += 1
            outcome = extract_page(result, min_chars=run.settings.min_chars)
            topic = " / ".join(file.relative_to(folder).parent.parts)
            run.saver.save(result, outcome, uri, [uri], topic)
        run.progress("extract", done, len(files))


def _refuse_escape(run: LinkRun, file: Path) -> None:
    """A symlink out of the folder could expose any file on the machine: record, skip."""
    uri = file.absolute().as_uri()
    error = f"{file} is a symlink to {file.resolve()}, outside the folder: not read"
    run.saver.failed(FetchResult(url=uri, error=error, error_kind="outside_folder"), uri)
