"""The `linkrag` command line: a thin layer over `assistant.Assistant`.

Arguments become settings once, here. Every failure ends as one `linkrag: error:` line
and an exit code (2 for usage, config and missing-index problems, 1 otherwise); the
traceback is shown only with --debug or LINKRAG_DEBUG=1. Ctrl-C (SIGINT) and SIGTERM end
a command cleanly with 130 and 143: ingest finishes or rolls back the article in hand,
a build in progress is discarded and the served index stays.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import NoReturn

from assistant import Assistant, ConfigError, load_config
from assistant.evaluation import (
    DEFAULT_K,
    QAFileError,
)
from assistant.redact import one_line, redact
from index import IndexBuildError, IndexMismatchError, IndexNotFoundError
from index.search import SEARCH_MODES
from ingest import ClusterError, SourceError
from ui.commands import COMMANDS, UsageError

logger = logging.getLogger("linkrag")

USAGE_ERRORS = (
    ClusterError,
    ConfigError,
    IndexBuildError,
    IndexNotFoundError,
    IndexMismatchError,
    SourceError,
    QAFileError,
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line instead of argparse's usage dump, still exit code 2.
        raise UsageError(f"{message} (see `linkrag --help`)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="linkrag", description="Search and cited answers over reading lists.")
    parser.add_argument(
        "--config", default="config.yaml", help="config file (default: %(default)s)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    fetch_commands = {"ingest": "fetch and clean into the store", "build": "ingest, then index"}
    for name, text in fetch_commands.items():
        fetching = sub.add_parser(name, help=text)
        fetching.add_argument("--replay", type=Path, help="serve every request from this WARC")
        fetching.add_argument("--record", type=Path, help="write live responses into this WARC")
        fetching.add_argument(
            "--source",
            action="append",
            metavar="SPEC",
            help="source spec (repeatable; replaces the config's sources)",
        )
        fetching.add_argument(
            "--refresh",
            action="store_true",
            help="revalidate stored links (conditional GET); unchanged ones are not re-extracted",
        )
        fetching.add_argument(
            "--reextract",
            action="store_true",
            help="re-run extraction from the raw cache and local sources; fetch nothing",
        )
    sub.add_parser("index", help="build or update the index from the store").add_argument(
        "--full", action="store_true", help="rebuild everything, not just changed articles"
    )
    search = sub.add_parser("search", help="hybrid search (queries from stdin when omitted)")
    search.add_argument("query", nargs="?", help="the query; omit to read one per line")
    search.add_argument("-k", type=int, default=8, help="hits per query (default: %(default)s)")
    search.add_argument("--json", action="store_true", help="one JSON object per line")
    ask = sub.add_parser("ask", help="answer with citations (questions from stdin when omitted)")
    ask.add_argument("question", nargs="?", help="the question; omit to read one per line")
    ask.add_argument("--json", action="store_true", help="one JSON object per line")
    for command in (search, ask):
        command.add_argument(
            "--section", help="only articles whose reading-list section contains this text"
        )
        command.add_argument(
            "--site", help="only articles on this host or its subdomains, e.g. zhihu.com"
        )
    serve = sub.add_parser("serve", help="the Gradio web UI")
    serve.add_argument("--host", help="bind address (default: config ui.host, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: config ui.port, 7860)")
    status = sub.add_parser("status", help="counts, failures, index version")
    status.add_argument("--json", action="store_true", help="one JSON object")
    feedback = sub.add_parser("feedback", help="ratings given in the web UI")
    actions = feedback.add_subparsers(dest="action", required=True, parser_class=_Parser)
    export = actions.add_parser("export", help="every rating as JSON lines")
    export.add_argument("--out", type=Path, help="write to this file (default: stdout)")
    evaluate = sub.add_parser("eval", help="retrieval and abstention metrics on a QA file")
    evaluate.add_argument(
        "qa", type=Path, metavar="QA.jsonl", help="JSONL: question, gold_urls, kind, split"
    )
    evaluate.add_argument("--json", action="store_true", help="one JSON object")
    evaluate.add_argument(
        "--split",
        choices=["tune", "heldout", "all"],
        default="all",
        help="questions of one split only (default: %(default)s)",
    )
    evaluate.add_argument(
        "--mode",
        choices=SEARCH_MODES,
        default="hybrid",
        help="retrieval: hybrid, dense-only or BM25-only (default: %(default)s)",
    )
    evaluate.add_argument(
        "-k",
        type=int,
        default=DEFAULT_K,
        help="chunks searched per question; articles are ranked among them (default: %(default)s)",
    )
    return parser


class Terminated(BaseException):
    """SIGTERM, raised like KeyboardInterrupt so cleanup code runs (not an Exception: no
    handler for errors may swallow it)."""

    where = "`linkrag: terminated`, exit 143"
    cause = "The command got SIGTERM (e.g. `kill`, a service manager or a container stop)."
    fix = (
        "Nothing is lost: ingest keeps whole articles and an index build keeps serving the "
        "old index and its cached vectors; run the command again to continue."
    )


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated


@contextmanager
def _sigterm_unwinds(wanted: bool) -> Iterator[None]:
    """While a command runs, SIGTERM unwinds it like Ctrl-C instead of killing the process
    in the middle of a write (the default). `serve` keeps the default: the web server's
    threads would outlive an exception in the main thread."""
    if not wanted or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _configure_logging(verbose: bool) -> None:
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(
        stream=sys.stderr, level=level, format="%(levelname)s %(name)s: %(message)s"
    )
    # jieba and bm25s set their own loggers to DEBUG and chat on every build or first use.
    for chatty in ("jieba", "bm25s"):
        logging.getLogger(chatty).setLevel(level)


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code (0 ok, 2 usage/config, 1 other failures)."""
    debug = os.environ.get("LINKRAG_DEBUG", "") not in ("", "0") or "--debug" in (argv or sys.argv)
    try:
        args = build_parser().parse_args(argv)
        _configure_logging(args.verbose)
        with _sigterm_unwinds(args.command != "serve"):
            assistant = Assistant(load_config(args.config))
            return COMMANDS[args.command](assistant, args)
    except (UsageError, *USAGE_ERRORS) as exc:
        return _fail(exc, 2, debug)
    except KeyboardInterrupt:
        print("linkrag: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("linkrag: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except BrokenPipeError:
        return 0  # e.g. `linkrag search ... | head`: the reader has what it wanted
    except Exception as exc:  # the edge: everything else becomes one line, exit code 1
        return _fail(exc, 1, debug)


def _fail(exc: BaseException, code: int, debug: bool) -> int:
    if debug:
        print(redact("".join(traceback.format_exception(exc))), end="", file=sys.stderr)
    message = one_line(exc)
    if code == 1 and not isinstance(exc, OSError | ValueError | RuntimeError):
        message = f"{type(exc).__name__}: {message}"
    print(f"linkrag: error: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
