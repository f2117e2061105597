"""Load: many concurrent `search`/`ask` callers through the Python API and the web UI.

    python benchmarks/load.py [--data DIR] [--callers 50] [--rounds 2] [--ui-callers 20]

Copies the live index version and the article store of --data into a temporary data dir
first, so the original is never touched (the web app keeps its feedback store there).
Python API: one shared `Assistant`; per mode (search, ask) all `--callers` threads start
at once and each runs `--rounds` eval/dev.jsonl questions one after another. Web UI: the
real app on 127.0.0.1 (see ui_concurrency.py); `--ui-callers` gradio_client users send one
chat turn each at once, then one search each. A call that raises or returns something
malformed is an error. Prints errors, p50/p95 and throughput per mode. Every caller
shares 2 cores, so a call's latency is mostly its wait behind the other callers.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from gradio_client import Client
from ui_concurrency import Result, chat, fire, for_load, serve, summarize

from assistant import Answer, Assistant, load_config
from assistant.evaluation import load_qa
from index import Hit, current_version

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "archive-data"
Call = Callable[[str], bool]  # one query through the API → whether the result is sound


def copy_live(source: Path, target: Path) -> Path:
    """The article store and the live index version of `source`, copied into `target`."""
    version = current_version(source)
    if version is None:
        raise SystemExit(f"no index in {source}: run `linkrag build` there first")
    shutil.copytree(source / "index" / version, target / "index" / version)
    shutil.copy2(source / "index" / "CURRENT", target / "index" / "CURRENT")
    shutil.copy2(source / "linkrag.sqlite", target / "linkrag.sqlite")
    return target


def open_assistant(data: Path) -> Assistant:
    """The repo's config.yaml pointed at `data`, as `linkrag` would run there (no rate limit)."""
    config = load_config(REPO / "config.yaml", env={**os.environ, "LINKRAG_DATA": str(data)})
    return Assistant(for_load(config))  # the web UI phase runs on this assistant too


def dev_questions() -> list[str]:
    return [item.question for item in load_qa(REPO / "eval" / "dev.jsonl")]


def sound_hits(hits: Sequence[Hit]) -> bool:
    """Some hits, ranked 1..n: what a search for a real question returns."""
    return bool(hits) and [hit.rank for hit in hits] == list(range(1, len(hits) + 1))


def sound_answer(answer: Answer) -> bool:
    """Text, and citations unless it abstained."""
    return bool(answer.text.strip()) and (answer.abstained or bool(answer.citations))


def calls(assistant: Assistant) -> dict[str, Call]:
    return {
        "search": lambda q: sound_hits(assistant.search(q, k=8)),
        "ask": lambda q: sound_answer(assistant.ask(q)),
    }


def _caller(
    call: Call, questions: Sequence[str], out: list[Result], gun: threading.Barrier
) -> None:
    gun.wait()
    for question in questions:
        started = time.perf_counter()
        try:
            ok = call(question)
        except Exception as exc:  # an error is a data point, not the end of the run
            print(f"call failed: {type(exc).__name__}: {exc}")
            ok = False
        out.append((ok, time.perf_counter() - started))


def hammer(
    call: Call, questions: Sequence[str], callers: int, rounds: int
) -> tuple[list[Result], float]:
    """`callers` threads start together, each making `rounds` calls; (results, wall s)."""
    out: list[Result] = []
    gun = threading.Barrier(callers + 1)
    threads = []
    for n in range(callers):
        mine = [questions[(n * rounds + i) % len(questions)] for i in range(rounds)]
        threads.append(threading.Thread(target=_caller, args=(call, mine, out, gun)))
        threads[-1].start()
    gun.wait()
    wall = time.perf_counter()
    for thread in threads:
        thread.join()
    return out, time.perf_counter() - wall


def search_page(client: Client, question: str) -> bool:
    """One Search-tab query; sound when it renders result cards."""
    html = client.predict(question, 8, "(any)", "(any)", api_name="/search")
    return 'class="lr-hit"' in str(html)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="a built data dir")
    parser.add_argument("--callers", type=int, default=50, help="Python API threads")
    parser.add_argument("--rounds", type=int, default=2, help="calls per API thread and mode")
    parser.add_argument("--ui-callers", type=int, default=20, help="gradio_client users")
    args = parser.parse_args()
    questions = dev_questions()
    with tempfile.TemporaryDirectory() as workdir:
        assistant = open_assistant(copy_live(args.data, Path(workdir)))
        for call in calls(assistant).values():
            call(questions[0])  # loads the index, the model and the chain untimed
        for mode, call in calls(assistant).items():
            results, wall = hammer(call, questions, args.callers, args.rounds)
            print(f"API {mode}, {args.callers} callers x {args.rounds}: {summarize(results)};"
                  f" {len(results) / wall:.1f} calls/s")  # fmt: skip
        with serve(assistant) as url:
            for label, request in (("chat", chat), ("search", search_page)):
                results, wall = fire(url, request, questions, args.ui_callers)
                print(f"UI {label}, {args.ui_callers} gradio_client users at once: "
                      f"{summarize(results)}; wall {wall:.2f}s")  # fmt: skip


if __name__ == "__main__":
    main()
