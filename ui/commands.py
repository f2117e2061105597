"""The `linkrag` subcommands: each turns parsed arguments into Assistant calls and output."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Iterator

from assistant import Assistant, FeedbackStore
from assistant.evaluation import evaluate_assistant, load_qa, select_split
from index import site_host
from ui.output import (
    answer_json,
    emit,
    eval_summary,
    hit_json,
    index_summary,
    ingest_summary,
    print_status,
    progress_bars,
)
from ui.render import answer_markdown, snippet


class UsageError(Exception):
    """A bad command line, reported with exit code 2."""

    cause = (
        "A bad command line: an unknown option, a missing argument, `-k` below 1, a "
        "`--site` that is no host, or an `--out` folder that does not exist."
    )
    fix = "Follow the message; `linkrag --help` and `linkrag COMMAND --help` list the options."


def _queries(given: str | None) -> Iterator[str]:
    """The positional query, or one query per non-blank stdin line (batch mode)."""
    if given is not None:
        yield given
        return
    for line in sys.stdin:
        if line.strip():
            yield line.strip()


def _filters(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """--section and --site as keyword arguments; a --site that is no host is a usage error."""
    if args.site is not None:
        try:
            site_host(args.site)
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
    return args.section, args.site


def cmd_search(assistant: Assistant, args: argparse.Namespace) -> int:
    if args.k < 1:
        raise UsageError("-k must be at least 1")
    section, site = _filters(args)
    for query in _queries(args.query):
        hits = assistant.search(query, k=args.k, section=section, site=site)
        if args.json:
            emit({"query": query, "hits": [hit_json(h) for h in hits]})
            continue
        if args.query is None:
            print(f"# {query}")
        for hit in hits:
            print(f"{hit.rank:>2}. {hit.chunk.title} <{hit.chunk.url}> ({hit.score:.4f})")
            print(f"    {snippet(hit.chunk.text, 200)}")
        if not hits:
            print("no matching passages")
    return 0


def cmd_ask(assistant: Assistant, args: argparse.Namespace) -> int:
    section, site = _filters(args)
    for question in _queries(args.question):
        answer = assistant.ask(question, section=section, site=site)
        if args.json:
            emit(answer_json(question, answer))
        else:
            print(answer_markdown(answer), end="\n\n" if args.question is None else "\n")
    return 0


def cmd_ingest(assistant: Assistant, args: argparse.Namespace) -> int:
    progress, close = progress_bars()
    try:
        kwargs = {
            "replay": args.replay,
            "record": args.record,
            "sources": args.source,
            "refresh": args.refresh,
            "reextract": args.reextract,
        }
        if args.command == "build":
            report = assistant.rebuild(progress, **kwargs)
            ingested, indexed = report.ingest, report.index
        else:
            ingested, indexed = assistant.ingest(progress, **kwargs), None
    finally:
        close()
    print(ingest_summary(ingested))
    for error in [*ingested.errors, *ingested.warnings]:  # say so, and go on
        print(f"linkrag: warning: {error}", file=sys.stderr)
    if ingested.interrupted:
        print("linkrag: interrupted; run the same command again to continue", file=sys.stderr)
        return 128 + (ingested.stopped_by or signal.SIGINT)  # 130 Ctrl-C, 143 SIGTERM
    if ingested.failed:
        print(f"{ingested.failed} links failed; `linkrag status` lists the reasons")
    if indexed is not None:
        print(index_summary(indexed))
    return 0


def cmd_index(assistant: Assistant, args: argparse.Namespace) -> int:
    progress, close = progress_bars()
    try:
        report = assistant.reindex(progress, full=args.full)
    finally:
        close()
    print(index_summary(report))
    return 0


def cmd_status(assistant: Assistant, args: argparse.Namespace) -> int:
    status = assistant.status() | assistant.ledger()
    if args.json:
        emit(status)
    else:
        print_status(status)
    return 0


def cmd_eval(assistant: Assistant, args: argparse.Namespace) -> int:
    if args.k < 1:
        raise UsageError("-k must be at least 1")
    items = select_split(load_qa(args.qa), args.split)
    progress, close = progress_bars()
    try:
        result = evaluate_assistant(
            assistant,
            items,
            mode=args.mode,
            k=args.k,
            progress=lambda done, total: progress("eval", done, total),
        )
    finally:
        close()
    unknown = result["unknown_gold_urls"]
    if unknown:
        print(
            f"linkrag: warning: {len(unknown)} gold URLs are no stored article, e.g. {unknown[0]}",
            file=sys.stderr,
        )
    if args.json:
        emit({"qa_file": str(args.qa), "split": args.split, **result})
    else:
        print(eval_summary(result, str(args.qa)))
    return 0


def cmd_serve(assistant: Assistant, args: argparse.Namespace) -> int:
    from ui.web import serve  # deferred: importing gradio takes seconds

    ui = assistant.config.ui
    serve(assistant, args.host or ui.host, args.port or ui.port)
    return 0


def cmd_feedback(assistant: Assistant, args: argparse.Namespace) -> int:
    store = FeedbackStore.in_dir(assistant.data_dir)
    if args.out is None:
        store.export(sys.stdout)
        return 0
    if args.out.parent and not args.out.parent.is_dir():
        raise UsageError(f"--out folder does not exist: {args.out.parent} (create it first)")
    with args.out.open("w", encoding="utf-8") as out:
        count = store.export(out)
    print(f"feedback: {count} ratings written to {args.out}", file=sys.stderr)
    return 0


COMMANDS: dict[str, Callable[[Assistant, argparse.Namespace], int]] = {
    "ingest": cmd_ingest,
    "build": cmd_ingest,
    "index": cmd_index,
    "search": cmd_search,
    "ask": cmd_ask,
    "serve": cmd_serve,
    "status": cmd_status,
    "eval": cmd_eval,
    "feedback": cmd_feedback,
}
