"""Link sources (reading lists, URL lists): new links are fetched, old ones revalidated on
--refresh, and --reextract re-reads the raw cache instead of the network."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.archive import WarcRecorder, WarcReplay
from ingest.extract import Extracted, Skip, extract_page
from ingest.fetch import decode_body
from ingest.fetch_batch import fetch_urls
from ingest.ledger import SKIPPED, Entry, Known, body_hash
from ingest.rawcache import RawCache
from ingest.ray_cluster import RayIngest
from ingest.saving import Saver
from ingest.settings import FetchSettings, IngestSettings
from ingest.sources import SourceError, parse_reading_list, parse_url_list
from ingest.store import ArticleStore
from ingest.types import FetchResult, Link, SourceKind, SourceSpec
from ingest.urls import canonical_url, is_http_url

if TYPE_CHECKING:
    from ingest.pipeline import IngestOptions

log = logging.getLogger(__name__)


class Interrupted(Exception):
    """Raised from a fetch callback to abandon the fetches still in flight."""

    where = "`linkrag: interrupted`, exit 130"
    cause = (
        "The ingest run was asked to stop (Ctrl-C, SIGTERM): the fetches still in flight "
        "are abandoned."
    )
    fix = (
        "Run the same command again: committed articles are kept and it continues where it stopped."
    )


class LinkRun:
    """State of one ingest run, and the handling of link sources."""

    def __init__(
        self,
        store: ArticleStore,
        fetch: FetchSettings,
        settings: IngestSettings,
        saver: Saver,
        replay: WarcReplay | None,
        recorder: WarcRecorder | None,
        raw: RawCache | None,
        options: IngestOptions,
        stop: threading.Event,
        progress: Callable[[str, int, int], None] | None,
        ray: RayIngest | None = None,
    ) -> None:
        self.store, self.fetch_settings, self.settings = store, fetch, settings
        self.saver, self.report = saver, saver.report
        self.replay, self.recorder, self.raw = replay, recorder, raw
        self.options, self.stop = options, stop
        self.progress = progress or (lambda stage, done, total: None)
        self.ray = ray  # None: fetch and extract here; else as tasks on this Ray cluster

    # reading the sources

    def _get(self, url: str) -> FetchResult:
        if self.replay is not None:
            return self.replay.fetch(url)
        return fetch_urls([url], self.fetch_settings, self._record)[0]

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
        """The source's links, recorded; the links it no longer has become stale."""
        if self.options.reextract:
            return self.store.links_of(str(spec))  # nothing is read, live or not
        if spec.kind is SourceKind.URLS:
            links = parse_url_list(self._read_text(spec.location, "URL list"), str(spec))
        else:
            text = self._read_text(spec.location, "reading list")
            base = spec.location if is_http_url(spec.location) else None
            links = parse_reading_list(text, str(spec), base_url=base)
        if not links:
            # Most likely a broken or moved list: its old links are kept, not made stale.
            what = "URL list" if spec.kind is SourceKind.URLS else "reading list"
            reason = f"{what} {spec.location} has no links (nothing to ingest from it)"
            self.report.warnings.append(reason)
            self.store.record_fetch(
                FetchResult(url=spec.location, final_url=spec.location, status=200),
                spec.location,
                Entry(SKIPPED, "no_links", reason),
            )
            return []
        self.report.stale_links += self.store.replace_links(str(spec), links)
        self.report.links += len(links)
        log.info("%s: %d links", spec, len(links))
        return links

    # fetching links

    def ingest_links(self, spec: SourceSpec) -> None:
        links = self.links_of(spec)
        known = self.store.known()
        new: dict[str, Link] = {}
        old: dict[str, Link] = {}
        for link in links:
            key = canonical_url(link.url)
            (old if key in known else new).setdefault(key, link)
        if self.options.reextract:
            self._reextract(old)
            return
        if not self.options.refresh:
            self.report.unchanged += len(old)
            old = {}
        self._fetch(new, {})
        self._fetch(old, known)

    def _fetch(self, todo: dict[str, Link], known: dict[str, Known]) -> None:
        """Fetch `todo` (canonical URL → link); with `known`, conditionally (revalidation)."""
        by_url = {link.url: link for link in todo.values()}
        validators = {
            link.url: (known[key].etag, known[key].last_modified)
            for key, link in todo.items()
            if key in known
        }
        total, done = len(by_url), 0

        def landed(result: FetchResult, outcome: Extracted | Skip | None = None) -> None:
            nonlocal done
            if self.stop.is_set():
                raise Interrupted  # abandons the rest; nothing of this one was stored
            self._record(result)
            self.handle(result, by_url[result.url], known, outcome)
            done += 1
            self.progress("refresh" if known else "fetch", done, total)

        if not by_url:
            return
        self.progress("refresh" if known else "fetch", 0, total)
        try:
            if self.ray is not None:
                from ingest.ray_ingest import fetch_links  # deferred: only `executor: ray`

                fetch_links(self, list(by_url.values()), validators, landed)
            elif self.replay is not None:
                for url in by_url:
                    landed(self.replay.fetch(url))
            else:
                # keep=False: each body is dropped once handled, not held until the end.
                fetch_urls(
                    list(by_url), self.fetch_settings, landed, validators=validators, keep=False
                )
        except Interrupted:
            log.warning("interrupted: %d of %d links handled", done, total)

    def handle(
        self,
        result: FetchResult,
        link: Link,
        known: dict[str, Known],
        outcome: Extracted | Skip | None = None,
    ) -> None:
        """Record `result`; `outcome` is its extraction when a Ray task already made it."""
        key = canonical_url(link.url)
        before = known.get(key)
        if before is not None:
            self.report.revalidated += 1
            same = result.ok and body_hash(result.body) == before.content_hash
            if result.not_modified or same:
                self.report.not_modified += 1
                self.store.record_checked(key, result)
                return
        if not result.ok:
            self.saver.failed(result, key)
            return
        if self.raw is not None:
            self.raw.put(key, result)
        self.extract_and_save(result, link, key, outcome)

    def extract_and_save(
        self, result: FetchResult, link: Link, key: str, outcome: Extracted | Skip | None = None
    ) -> None:
        self.report.extracted += 1
        if outcome is None:
            outcome = extract_page(result, link.anchor, min_chars=self.settings.min_chars)
        topic = " / ".join(part for part in link.section if part)
        self.saver.save(result, outcome, key, [link.url, result.final_url], topic)

    def _reextract(self, old: dict[str, Link]) -> None:
        """Extraction again from the raw cache; links without a cached response are left."""
        missing = 0
        for done, (key, link) in enumerate(old.items(), start=1):
            if self.stop.is_set():
                return
            cached = self.raw.get(key) if self.raw is not None else None
            if cached is None:
                missing += 1
            else:
                self.extract_and_save(cached, link, key)
            self.progress("reextract", done, len(old))
        if missing:
            self.report.warnings.append(
                f"{missing} links have no raw cached response and were not re-extracted"
            )
