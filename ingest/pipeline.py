"""run_ingest: sources → links → fetch (live or replay) → extract → dedup → store."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from warcio.exceptions import ArchiveLoadFailed

from ingest.archive import WarcRecorder, WarcReplay
from ingest.dedup import Action, decide, group_by_canonical, text_hash
from ingest.extract import Extracted, Skip, extract_page
from ingest.fetch import decode_body, fetch_urls
from ingest.settings import FetchSettings, IngestSettings
from ingest.sources import SourceError, parse_reading_list, parse_url_list
from ingest.store import ArticleStore
from ingest.types import Article, FetchResult, Link, SourceKind, SourceSpec
from ingest.urls import canonical_url, is_http_url

log = logging.getLogger(__name__)

ProgressFn = Callable[[str, int, int], None]

_DIR_TYPES = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".html": "text/html",
    ".htm": "text/html",
    ".txt": "text/plain",
}
# Replay tries these records of one article first: markdown beats an HTML page shell.
_TYPE_RANK = {"text/markdown": 0, "text/x-markdown": 0, "text/plain": 1}
# Only a record that could not be read at all is worth trying the article's next record.
_TRY_NEXT = frozenset({"fetch_error", "unsupported", "empty"})


@dataclass
class IngestReport:
    links: int = 0  # links found in reading lists and URL lists
    fetched: int = 0  # responses obtained (live, replayed or read from a WARC/folder)
    failed: int = 0  # fetches that failed (recorded per URL in the store)
    articles_new: int = 0
    articles_updated: int = 0
    duplicates: int = 0  # exact-text duplicates merged into an earlier article
    skipped: int = 0  # responses that are not articles (listings, too short, ...)
    seconds: float = 0.0
    unchanged: int = 0  # URLs not refetched because an earlier run fetched them fine
    skip_kinds: dict[str, int] = field(default_factory=dict)  # skipped, by reason kind
    errors: list[str] = field(default_factory=list)  # sources that could not be read at all


class _Run:
    """State of one ingest run; each method handles one kind of source."""

    def __init__(
        self,
        store: ArticleStore,
        fetch: FetchSettings,
        settings: IngestSettings,
        replay: WarcReplay | None,
        recorder: WarcRecorder | None,
        progress: ProgressFn | None,
    ) -> None:
        self.store, self.fetch_settings, self.settings = store, fetch, settings
        self.replay, self.recorder = replay, recorder
        self.progress = progress or (lambda stage, done, total: None)
        self.report = IngestReport()
        self.skips: Counter[str] = Counter()

    # reading the sources

    def _get(self, url: str) -> FetchResult:
        if self.replay is not None:
            return self.replay.fetch(url)
        results = fetch_urls([url], self.fetch_settings, self._record)
        return results[0]

    def _record(self, result: FetchResult) -> None:
        if self.recorder is not None:
            self.recorder.write(result)

    def _read_text(self, location: str, what: str) -> str:
        if is_http_url(location):
            result = self._get(location)
            if not result.ok:
                raise SourceError(f"cannot read {what} {location}: {result.error}")
            return decode_body(result.body, result.content_type)
        path = Path(location).expanduser()
        if not path.is_file():
            raise SourceError(f"{what} not found: {location} (check the path, or give a URL)")
        return decode_body(path.read_bytes())

    def links_of(self, spec: SourceSpec) -> list[Link]:
        if spec.kind is SourceKind.URLS:
            links = parse_url_list(self._read_text(spec.location, "URL list"), str(spec))
        else:
            text = self._read_text(spec.location, "reading list")
            base = spec.location if is_http_url(spec.location) else None
            links = parse_reading_list(text, str(spec), base_url=base)
        self.store.add_links(links)
        self.report.links += len(links)
        log.info("%s: %d links", spec, len(links))
        return links

    # fetching links

    def ingest_links(self, links: list[Link]) -> None:
        done_before = self.store.fetched_ok()
        todo: dict[str, Link] = {}
        for link in links:
            key = canonical_url(link.url)
            if key in done_before:
                self.report.unchanged += 1
            else:
                todo.setdefault(key, link)
        by_url = {link.url: link for link in todo.values()}
        total, done = len(by_url), 0

        def landed(result: FetchResult) -> None:
            nonlocal done
            self._record(result)
            self.handle(result, by_url[result.url])
            done += 1
            self.progress("fetch", done, total)

        self.progress("fetch", 0, total)
        if self.replay is not None:
            for url in by_url:
                landed(self.replay.fetch(url))
        elif by_url:
            fetch_urls(list(by_url), self.fetch_settings, landed)

    def handle(self, result: FetchResult, link: Link) -> None:
        self.store.record_fetch(result, canonical_url(link.url))
        if not result.ok:
            self.report.failed += 1
            log.info("fetch failed (%s): %s", result.error_kind, result.error)
            return
        self.report.fetched += 1
        outcome = extract_page(result, link.anchor, min_chars=self.settings.min_chars)
        topic = " / ".join(part for part in link.section if part)
        self.save(outcome, canonical_url(link.url), [link.url, result.final_url], topic)

    # storing

    def save(self, outcome: Extracted | Skip, url: str, aliases: list[str], topic: str) -> None:
        if isinstance(outcome, Skip):
            self.report.skipped += 1
            self.skips[outcome.kind] += 1
            log.debug("not an article (%s): %s", outcome.kind, outcome.reason)
            return
        article = Article(
            url=url,
            title=outcome.title,
            text=outcome.text,
            text_hash=text_hash(outcome.text),
            author=outcome.author,
            date=outcome.date,
            language=outcome.language,
            topic=topic,
            aliases=[a for a in dict.fromkeys(aliases) if a],
        )
        decision = decide(
            self.store.find_by_url(url),
            self.store.find_by_hash(article.text_hash),
            article.text_hash,
        )
        if decision.action is Action.NEW:
            self.store.add_article(article)
            self.report.articles_new += 1
        elif decision.action is Action.UPDATE and decision.article_id is not None:
            self.store.update_article(decision.article_id, article)
            self.report.articles_updated += 1
        elif decision.action is Action.DUPLICATE:
            self.store.add_article(article, duplicate_of=decision.article_id)
            self.report.duplicates += 1
        elif decision.article_id is not None:
            self.store.add_aliases(article.aliases, decision.article_id)

    # archives and folders

    def ingest_warc(self, path: Path) -> None:
        """Every response record is a candidate; a blob page and its raw file are one article."""
        with WarcReplay(path, github_raw=self.fetch_settings.github_raw) as archive:
            groups = group_by_canonical(archive.urls())
            done_before = self.store.fetched_ok()
            total = len(groups)
            self.progress("extract", 0, total)
            for done, (key, urls) in enumerate(groups.items(), start=1):
                if key in done_before:
                    self.report.unchanged += 1
                else:
                    ranked = sorted(urls, key=lambda u: _TYPE_RANK.get(archive.media_type(u), 9))
                    self._ingest_group(archive, key, ranked)
                self.progress("extract", done, total)

    def _ingest_group(self, archive: WarcReplay, key: str, urls: list[str]) -> None:
        outcome: Extracted | Skip = Skip("empty", f"no readable record for {key}")
        for url in urls:
            result = archive.read(url)
            outcome = extract_page(result, min_chars=self.settings.min_chars)
            if not isinstance(outcome, Skip) or outcome.kind not in _TRY_NEXT:
                break
        self.store.record_fetch(result, key)
        if not result.ok:
            self.report.failed += 1
            return
        self.report.fetched += 1
        self.save(outcome, key, urls, "")

    def ingest_dir(self, folder: Path) -> None:
        if not folder.is_dir():
            raise SourceError(f"folder not found: {folder} (check the dir: path)")
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in _DIR_TYPES)
        self.progress("extract", 0, len(files))
        for done, file in enumerate(files, start=1):
            uri = file.resolve().as_uri()
            ctype = _DIR_TYPES[file.suffix.lower()] + "; charset=utf-8"
            result = FetchResult(
                url=uri, final_url=uri, status=200, content_type=ctype, body=file.read_bytes()
            )
            self.report.fetched += 1
            topic = " / ".join(file.relative_to(folder).parent.parts)
            self.save(extract_page(result, min_chars=self.settings.min_chars), uri, [uri], topic)
            self.progress("extract", done, len(files))


def run_ingest(
    store: ArticleStore,
    sources: list[SourceSpec],
    fetch: FetchSettings,
    extract: IngestSettings,
    *,
    replay: Path | None = None,
    record: Path | None = None,
    progress: ProgressFn | None = None,
) -> IngestReport:
    """Ingest every source into `store`; per-URL and per-source problems are reported, not raised.

    With `replay`, every fetch is answered from that WARC (misses become `replay_miss`
    failures); with `record`, every live response is appended to that WARC.
    """
    started = time.perf_counter()
    archive = WarcReplay(replay, github_raw=fetch.github_raw) if replay is not None else None
    if record is not None and archive is not None:
        log.warning("--record is ignored under --replay: nothing is fetched live")
    recorder = WarcRecorder(record) if record is not None and archive is None else None
    run = _Run(store, fetch, extract, archive, recorder, progress)
    try:
        for spec in sources:
            _run_source(run, spec)
    finally:
        if archive is not None:
            archive.close()
        if recorder is not None:
            recorder.close()
    run.report.skip_kinds = dict(run.skips)
    run.report.seconds = time.perf_counter() - started
    return run.report


def _run_source(run: _Run, spec: SourceSpec) -> None:
    run.store.record_source(spec)
    try:
        if spec.kind is SourceKind.WARC:
            run.ingest_warc(Path(spec.location).expanduser())
        elif spec.kind is SourceKind.DIR:
            run.ingest_dir(Path(spec.location).expanduser())
        else:
            run.ingest_links(run.links_of(spec))
    except (SourceError, OSError, ValueError, ArchiveLoadFailed) as exc:
        message = f"source {spec} skipped: {exc}"
        log.error("%s", message)
        run.report.errors.append(message)
