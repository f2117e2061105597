"""Local sources: WARC archives and folders, read with no network at all."""

from __future__ import annotations

from collections.abc import Callable, Generator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from datasketch import MinHash

from ingest.archive import WarcReplay
from ingest.dedup import group_by_canonical
from ingest.extract import Extracted, Skip, extract_page
from ingest.ledger import body_hash
from ingest.sources import SourceError
from ingest.types import FetchResult

if TYPE_CHECKING:
    from ingest.ledger import Known
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
ReadAt = Callable[[int, str], tuple[FetchResult, str | None]]  # WarcReplay.read_at


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
        todo: list[GroupJob] = []
        for key, urls in groups.items():
            if key in done_before and key not in known:
                run.report.unchanged += 1
                continue
            ranked = sorted(urls, key=lambda u: _TYPE_RANK.get(archive.media_type(u), 9))
            before = known[key].content_hash if key in known else None
            todo.append(GroupJob(key, [(u, archive.index.exact[u]) for u in ranked], before))
        if run.ray is not None:
            from ingest.ray_ingest import read_warc_groups  # deferred: only `executor: ray`

            outcomes = read_warc_groups(run.ray, path, todo, run.settings.min_chars)
        else:
            outcomes = (read_group(archive.read_at, job, run.settings.min_chars) for job in todo)
        _apply_groups(run, todo, outcomes, len(groups))


def _apply_groups(
    run: LinkRun, todo: list[GroupJob], outcomes: Generator[GroupRead, None, None], total: int
) -> None:
    done = total - len(todo)  # the unchanged ones
    run.progress("extract", done, total)
    with closing(outcomes):  # a stop leaves the rest unread (on Ray: cancelled)
        for job in todo:
            if run.stop.is_set():
                return
            apply_group(run, job, next(outcomes))
            done += 1
            run.progress("extract", done, total)


@dataclass(frozen=True)
class GroupJob:
    """One article of a WARC: its canonical key, its records (URL, offset) best first, and
    the content hash stored for it (--refresh), if any."""

    key: str
    records: list[tuple[str, int]]
    before: str | None = None


@dataclass
class GroupRead:
    """What reading and extracting one article's records gave."""

    result: FetchResult
    outcome: Extracted | Skip
    extracted: int = 0  # records run through extraction
    unchanged: bool = False  # --refresh: the body is the one stored
    sketch: MinHash | None = None  # the text's MinHash, when a Ray task computed it


def read_group(read_at: ReadAt, job: GroupJob, min_chars: int) -> GroupRead:
    """Read `job`'s records in turn until one extracts (no store access: runs on Ray too)."""
    got = GroupRead(FetchResult(url=job.key), Skip("empty", f"no readable record for {job.key}"))
    readable = False
    for url, offset in job.records:
        candidate = read_at(offset, url)[0]
        if not candidate.ok:
            got.result = got.result if readable else candidate  # an error record is not extracted
            continue
        got.result, readable = candidate, True
        if job.before is not None and body_hash(candidate.body) == job.before:
            got.unchanged = True
            return got
        got.extracted += 1
        got.outcome = extract_page(candidate, min_chars=min_chars)
        if not isinstance(got.outcome, Skip) or got.outcome.kind not in _TRY_NEXT:
            break
    return got


def apply_group(run: LinkRun, job: GroupJob, got: GroupRead) -> None:
    """Store what `read_group` gave for `job` (on the driver: the one SQLite writer)."""
    run.report.extracted += got.extracted
    if got.unchanged:
        run.report.not_modified += 1
        run.store.record_checked(job.key, got.result)
    elif not got.result.ok:
        run.saver.failed(got.result, job.key)
    else:
        urls = [url for url, _ in job.records]
        run.saver.save(got.result, got.outcome, job.key, urls, "", got.sketch)


@dataclass
class FileJob:
    """A folder file whose bytes changed (or are new): its URI, reading-list topic, body."""

    uri: str
    topic: str
    result: FetchResult


Outcomes = Generator[tuple[FileJob, Extracted | Skip, MinHash | None], None, None]


def ingest_dir(run: LinkRun, folder: Path) -> None:
    """Every .md/.html/.txt/.pdf file; a file whose bytes did not change is not re-read.
    On Ray, the files are read here and extracted as tasks (nodes need not share disks)."""
    if not folder.is_dir():
        raise SourceError(f"folder not found: {folder} (check the dir: path)")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in _DIR_TYPES)
    known = {} if run.options.reextract else run.store.known()
    run.progress("extract", 0, len(files))
    jobs = _changed_files(run, folder, files, known)
    if run.ray is not None:
        from ingest.ray_ingest import extract_files  # deferred: only `executor: ray`

        outcomes = extract_files(run.ray, jobs, run.settings.min_chars)
    else:
        outcomes = (
            (job, extract_page(job.result, min_chars=run.settings.min_chars), None) for job in jobs
        )
    with closing(outcomes):  # a stop leaves the rest unread (on Ray: cancelled)
        for job, outcome, sketch in outcomes:
            run.report.extracted += 1
            run.saver.save(job.result, outcome, job.uri, [job.uri], job.topic, sketch)
            if run.stop.is_set():
                return


def _changed_files(
    run: LinkRun, folder: Path, files: list[Path], known: dict[str, Known]
) -> Generator[FileJob, None, None]:
    """The files to extract, read as they are pulled; the rest are counted (and progress
    is reported as files are read, so a Ray run reports a few batches ahead)."""
    root = folder.resolve()
    for done, file in enumerate(files, start=1):
        if run.stop.is_set():
            return
        if not file.resolve().is_relative_to(root):
            _refuse_escape(run, file)
        else:
            uri = file.resolve().as_uri()
            body = file.read_bytes()
            if uri in known and known[uri].content_hash == body_hash(body):
                run.report.unchanged += 1
            else:
                ctype = _DIR_TYPES[file.suffix.lower()]
                result = FetchResult(url=uri, final_url=uri, status=200, content_type=ctype,
                                     body=body)  # fmt: skip
                yield FileJob(uri, " / ".join(file.relative_to(folder).parent.parts), result)
        run.progress("extract", done, len(files))


def _refuse_escape(run: LinkRun, file: Path) -> None:
    """A symlink out of the folder could expose any file on the machine: record, skip."""
    uri = file.absolute().as_uri()
    error = f"{file} is a symlink to {file.resolve()}, outside the folder: not read"
    run.saver.failed(FetchResult(url=uri, error=error, error_kind="outside_folder"), uri)
