"""`Assistant`: the Python API over ingest, index and the answer chain."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from operator import itemgetter
from pathlib import Path
from typing import Any

from langchain_core.runnables import Runnable, RunnableLambda, RunnableParallel

from assistant.abstention import AbstentionGate
from assistant.answerers import AnswerInput
from assistant.config import AppConfig, load_config
from assistant.followup import Rewrite, expand, rewrite
from assistant.llm import AnswerEvent, LLMAnswerer, build_answerer
from assistant.prompts import question_language, reply
from assistant.redact import register_secrets
from assistant.reload import VersionWatch
from assistant.retriever import HybridRetriever, Searcher, documents_to_hits, search_hits
from assistant.types import Answer
from index import (
    Embedder,
    Hit,
    IndexReport,
    SearchIndex,
    build_index,
    current_version,
    get_embedder,
    is_small_talk,
)
from ingest import (
    ArticleStore,
    IngestOptions,
    IngestReport,
    ProgressFn,
    RayIngest,
    parse_source_spec,
    run_ingest,
)

logger = logging.getLogger(__name__)

History = list[dict[str, str]]
_STREAM_PIECE = re.compile(r".+?(?:\]|$)", re.DOTALL)


@dataclass
class RebuildReport:
    """What `Assistant.rebuild` did: the ingest report, the index report (None when the
    ingest was interrupted: a stop request stops the whole rebuild), total time."""

    ingest: IngestReport
    index: IndexReport | None
    seconds: float


def condense_question(question: str, history: History | None) -> str:
    """The retrieval query for a follow-up, expanded by rule (see `assistant.followup`)."""
    return expand(question, history)


class Assistant:
    """Search and cited answers over the indexed articles; loads the index lazily."""

    def __init__(self, config: AppConfig, index: SearchIndex | Searcher | None = None) -> None:
        self.config = config
        register_secrets(config.answer.llm.api_key_env)  # masked in logs from now on
        self._lock = threading.RLock()
        self._index: Searcher | None = index
        self._embedder: Embedder | None = index.embedder if index is not None else None
        self._chain: Runnable[dict[str, str], AnswerEvent] | None = None
        self._llm: LLMAnswerer | None = None  # the chat model also condenses follow-ups
        # Only an assistant that loads its own index follows CURRENT: one handed an index
        # (the UI's answer variants) is rebuilt by its owner when that swaps.
        interval = config.index.reload_check if index is None else 0.0
        self._watch = VersionWatch(config.data_dir, interval)

    @classmethod
    def from_config(cls, path: str | Path | None = "config.yaml") -> Assistant:
        """An assistant configured from a YAML file plus LINKRAG_* environment overrides."""
        return cls(load_config(path))

    @property
    def data_dir(self) -> Path:
        return self.config.data_dir

    @property
    def index(self) -> Searcher:
        """The live index, loaded on first use; raises IndexNotFoundError before a build.

        A version another process published is swapped in here (see `VersionWatch`).
        """
        current = self._index
        if current is not None:
            return self._follow_current(current)
        with self._lock:
            if self._index is None:
                self._index = self._load_index()
            return self._index

    def has_index(self) -> bool:
        """True when an index is loaded or built (no loading happens here)."""
        return self._index is not None or current_version(self.data_dir) is not None

    def embedder(self) -> Embedder:
        """The configured embedder, shared by loading and building (loads its model lazily)."""
        with self._lock:
            if self._embedder is None:
                self._embedder = get_embedder(self.config.index)
            return self._embedder

    def _follow_current(self, held: Searcher) -> Searcher:
        fresh = self._watch.poll(getattr(held, "version", None), self._load_index)
        if fresh is None:
            return held
        return self._swap_in(fresh, replacing=held)

    def _swap_in(self, fresh: Searcher, replacing: Searcher | None = None) -> Searcher:
        """Make `fresh` (loaded outside the lock) the live index. Readers holding the old
        one finish on it; new ones get this. With `replacing`, only if that is still live:
        an in-process rebuild that swapped meanwhile has the newer version."""
        with self._lock:
            if replacing is None or self._index is replacing:
                self._index, self._chain = fresh, None
            return self._index if self._index is not None else fresh

    def _load_index(self) -> SearchIndex:
        started = time.perf_counter()
        loaded = SearchIndex.load(self.data_dir, self.config.index, embedder=self.embedder())
        logger.info("loaded index %s in %.2fs", loaded.version, time.perf_counter() - started)
        return loaded

    def chain(self) -> Runnable[dict[str, str], AnswerEvent]:
        """The LCEL chain {"question", "query"} → retriever | the configured answerer."""
        held = self._index
        if held is not None:
            self._follow_current(held)  # a newly published version drops the cached chain
        with self._lock:
            if self._chain is None:
                self._chain = self._make_chain()
            return self._chain

    def _make_chain(
        self, section: str | None = None, site: str | None = None
    ) -> Runnable[dict[str, str], AnswerEvent]:
        held = self._index  # under the lock: no reload here (chain() has looked already)
        index = held if held is not None else self.index
        retriever = HybridRetriever(
            index=index, k=self.config.answer.top_k, section=section, site=site
        )
        gather: Runnable[dict[str, str], AnswerInput] = RunnableParallel(
            question=itemgetter("question"),
            hits=itemgetter("query") | retriever | RunnableLambda(documents_to_hits),
        )  # type: ignore[assignment]  # RunnableParallel is typed dict[str, Any]
        glossary = getattr(index, "glossary", None)
        answerer = build_answerer(index.embedder, self.config.answer, glossary)
        self._llm = answerer if isinstance(answerer, LLMAnswerer) else None
        # Test doubles of the index may lack these; the gate then reads passages only.
        corpus = getattr(index, "corpus_text", None)
        article = getattr(index, "article_text", None)
        return gather | AbstentionGate(answerer, self.config.answer, corpus, article)

    def search(
        self, query: str, k: int = 8, *, section: str | None = None, site: str | None = None
    ) -> list[Hit]:
        """Hybrid search: the top `k` chunks, at most a few per article.

        `section` keeps articles whose reading-list heading path contains it; `site`
        keeps articles on that host or its subdomains ("zhihu.com").
        """
        if not query.strip():
            return []
        limit = self.config.answer.max_question_chars
        if len(query) > limit:
            raise ValueError(
                f"query too long ({len(query)} characters; the limit is {limit}): shorten it "
                "or raise answer.max_question_chars"
            )
        return search_hits(self.index, query, k, section, site)

    def _chain_for(
        self, section: str | None, site: str | None
    ) -> Runnable[dict[str, str], AnswerEvent]:
        """The shared chain, or a one-off one whose retriever applies the filters."""
        if section or site:
            with self._lock:
                return self._make_chain(section, site)
        return self.chain()

    def rewrite(self, question: str, history: History | None = None) -> Rewrite:
        """The standalone retrieval query of a (follow-up) question."""
        self.chain()  # builds the LLM answerer, whose model also condenses
        llm = self._llm
        return rewrite(question, history, llm.model if llm is not None else None)

    def _inputs(self, question: str, history: History | None) -> tuple[dict[str, str], str | None]:
        """The chain's input and the rewritten query (None when the question stands alone).

        A rewritten follow-up is also what the answerer reads, so "它的显存呢？" is
        answered about the subject it refers to.
        """
        query = self.rewrite(question, history).query
        if query == question:
            return {"question": question, "query": question}, None
        return {"question": query, "query": query}, query

    def ask(
        self,
        question: str,
        history: History | None = None,
        *,
        section: str | None = None,
        site: str | None = None,
    ) -> Answer:
        """A cited answer, or the fixed "not covered" reply when evidence is weak.

        Greetings and thanks get a short fixed reply without any retrieval. `section`
        and `site` restrict retrieval as in `search`.
        """
        language = question_language(question)
        if not question.strip():
            return Answer(reply("empty_question", language), abstained=True)
        limit = self.config.answer.max_question_chars
        if len(question) > limit:
            text = reply("too_long", language).format(length=len(question), limit=limit)
            return Answer(text, abstained=True)
        if is_small_talk(question):
            return Answer(reply("small_talk", language))
        inputs, rewritten = self._inputs(question, history)
        result = self._chain_for(section, site).invoke(inputs)
        answer = result if isinstance(result, Answer) else Answer(result)  # answerers end in one
        return replace(answer, rewritten_query=rewritten)

    def stream(
        self,
        question: str,
        history: History | None = None,
        *,
        section: str | None = None,
        site: str | None = None,
    ) -> Iterator[str | Answer]:
        """Text deltas of the answer, then the final Answer.

        LLM answerers stream the model's deltas; the extractive one (and the fixed
        replies) yield only an Answer, whose text is then streamed sentence by sentence.
        """
        too_long = len(question) > self.config.answer.max_question_chars
        if not question.strip() or too_long or is_small_talk(question):
            answer = self.ask(question, history)
            yield from _STREAM_PIECE.findall(answer.text)
            yield answer
            return
        inputs, rewritten = self._inputs(question, history)
        streamed = False
        for event in self._chain_for(section, site).stream(inputs):
            if isinstance(event, Answer):
                event = replace(event, rewritten_query=rewritten)
                if not streamed:
                    yield from _STREAM_PIECE.findall(event.text)
            streamed = streamed or isinstance(event, str)
            yield event

    def ingest(
        self,
        progress: ProgressFn | None = None,
        *,
        replay: Path | None = None,
        record: Path | None = None,
        sources: list[str] | None = None,
        refresh: bool = False,
        reextract: bool = False,
    ) -> IngestReport:
        """Fetch and clean every source into the store (incremental).

        `refresh` revalidates already stored links (conditional GET); `reextract` re-runs
        extraction from the raw cache and local sources without fetching anything. A run
        over the configured sources (no `sources`) also marks links no list has any more
        as stale.
        """
        chosen = self.config.sources if sources is None else sources
        specs = [parse_source_spec(spec) for spec in chosen]
        self.data_dir.mkdir(parents=True, exist_ok=True)
        options = IngestOptions(
            refresh=refresh,
            reextract=reextract,
            all_sources=sources is None,
            raw_dir=self.data_dir / "raw",
        )
        with ArticleStore.open(self.data_dir) as store:
            return run_ingest(
                store,
                specs,
                self.config.fetch,
                self.config.extract,
                replay=replay,
                record=record,
                progress=progress,
                options=options,
                ray=self._ray_ingest(),
            )

    def _ray_ingest(self) -> RayIngest | None:
        if self.config.executor != "ray":
            return None
        return RayIngest(self.config.ray.address, self.config.ray.ingest)

    def reindex(self, progress: ProgressFn | None = None, *, full: bool = False) -> IndexReport:
        """Update the index from the store (all of it when `full`), then swap it in live."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with ArticleStore.open(self.data_dir) as store:
            report = build_index(
                store,
                self.data_dir,
                self.config.index,
                embedder=self.embedder(),
                progress=progress,
                full=full,
                ray=self.config.ray if self.config.executor == "ray" else None,
            )
        self._swap_in(self._load_index())
        return report

    def rebuild(
        self,
        progress: ProgressFn | None = None,
        *,
        replay: Path | None = None,
        record: Path | None = None,
        sources: list[str] | None = None,
        refresh: bool = False,
        reextract: bool = False,
    ) -> RebuildReport:
        """Ingest, then index, then hot-swap the loaded index."""
        started = time.perf_counter()
        if self.config.executor == "ray":  # fail before a long ingest, not after it
            from ingest.ray_cluster import import_ray

            import_ray()
        ingested = self.ingest(
            progress,
            replay=replay,
            record=record,
            sources=sources,
            refresh=refresh,
            reextract=reextract,
        )
        indexed = None if ingested.interrupted else self.reindex(progress)
        return RebuildReport(ingested, indexed, time.perf_counter() - started)

    def status(self) -> dict[str, Any]:
        """Counts and index version, the `linkrag status --json` contract."""
        stats = {"articles": 0, "links": 0, "fetch_failures": 0}
        if (self.data_dir / "linkrag.sqlite").exists():
            with ArticleStore.open(self.data_dir) as store:
                got = store.stats()
            stats = {k: int(getattr(got, k)) for k in stats}
        version = current_version(self.data_dir)
        meta = _read_meta(self.data_dir, version)
        return {
            "articles": stats["articles"],
            "chunks": int(meta.get("chunks", meta.get("chunk_count", 0))),
            "links": stats["links"],
            "fetch_failures": stats["fetch_failures"],
            "index_version": version,
            "embedder": str(meta.get("embedder") or meta.get("embedder_id") or self.embedder().id),
        }

    def ledger(self) -> dict[str, Any]:
        """The fetch ledger's summary: counts by outcome and site, top failure kinds."""
        if not (self.data_dir / "linkrag.sqlite").exists():
            return {"outcomes": {}, "sites": {}, "failure_kinds": {}}
        with ArticleStore.open(self.data_dir) as store:
            return store.ledger_summary()

    def failures(self, limit: int = 20) -> list[tuple[str, str, str]]:
        """The most recent fetch failures as (url, kind, reason)."""
        if not (self.data_dir / "linkrag.sqlite").exists():
            return []
        with ArticleStore.open(self.data_dir) as store:
            return [(str(u), str(k), str(e)) for u, k, e in store.failures(limit)]


def _read_meta(data_dir: Path, version: str | None) -> dict[str, Any]:
    if version is None:
        return {}
    path = data_dir / "index" / version / "meta.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        logger.warning("cannot read %s", path)
        return {}
    return meta if isinstance(meta, dict) else {}
