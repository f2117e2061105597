"""Soak: many sequential queries through the Python API; does memory or the fd count grow?

    python benchmarks/soak.py [--data DIR] [--queries 10000] [--warmup 500] [--ask-every 4]

One `Assistant` over a copy of --data's live index (see load.py) answers eval/dev.jsonl
questions in turn: every `--ask-every`-th query is an `ask` (every third of those a
follow-up with history), the rest are searches with k from 3 to 10, some restricted to a
site. After `--warmup` queries it samples RSS (VmRSS) and the open file descriptors, again
every `--every` queries and at the end (each after a gc.collect()), and prints the growth
since warm-up: the targets are under 5 % RSS and 0 fds.
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import time
from pathlib import Path

from load import DEFAULT_DATA, copy_live, dev_questions, open_assistant, sound_answer, sound_hits

from assistant import Assistant
from assistant.eval_metrics import percentile


def rss_kb() -> int:
    """Resident set size of this process, from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def sample() -> tuple[int, int]:
    gc.collect()  # count what is kept, not garbage that has not been collected yet
    return rss_kb(), open_fds()


def query(assistant: Assistant, n: int, questions: list[str], ask_every: int) -> tuple[str, bool]:
    """The n-th soak query: (kind, whether its result was sound)."""
    question = questions[n % len(questions)]
    if n % ask_every == ask_every - 1:
        if n % (3 * ask_every) == ask_every - 1:
            prior = questions[(n - 1) % len(questions)]
            history = [{"role": "user", "content": prior}, {"role": "assistant", "content": "…"}]
            return "ask", sound_answer(assistant.ask(question, history))
        return "ask", sound_answer(assistant.ask(question))
    site = "github.com" if n % 7 == 0 else None
    hits = assistant.search(question, k=3 + n % 8, site=site)
    return "search", sound_hits(hits) or (site is not None and not hits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="a built data dir")
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--every", type=int, default=1000, help="queries between samples")
    parser.add_argument("--ask-every", type=int, default=4, help="every n-th query is an ask")
    args = parser.parse_args()
    questions = dev_questions()
    latencies: dict[str, list[float]] = {"search": [], "ask": []}
    errors = 0
    with tempfile.TemporaryDirectory() as workdir:
        assistant = open_assistant(copy_live(args.data, Path(workdir)))
        started = time.perf_counter()
        for n in range(args.queries):
            if n == args.warmup:
                base_rss, base_fds = sample()
                print(
                    f"after {n} queries: RSS {base_rss / 1024:.1f} MB, {base_fds} fds", flush=True
                )
            elif n > args.warmup and n % args.every == 0:
                rss, fds = sample()
                print(f"after {n} queries: RSS {rss / 1024:.1f} MB, {fds} fds, "
                      f"load {os.getloadavg()[0]:.1f}, {time.perf_counter() - started:.0f}s",
                      flush=True)  # fmt: skip
            began = time.perf_counter()
            try:
                kind, ok = query(assistant, n, questions, args.ask_every)
            except Exception as exc:  # counted; a soak reports errors instead of stopping
                print(f"query {n} failed: {type(exc).__name__}: {exc}", flush=True)
                kind, ok = "error", False
            errors += not ok
            latencies.setdefault(kind, []).append((time.perf_counter() - began) * 1000)
        rss, fds = sample()
    wall = time.perf_counter() - started
    print(f"after {args.queries} queries: RSS {rss / 1024:.1f} MB, {fds} fds; {wall:.0f}s wall")
    for kind in ("search", "ask"):
        values = latencies[kind]
        p50, p95 = percentile(values, 50) or 0.0, percentile(values, 95) or 0.0
        print(f"{kind}: {len(values)} queries, p50 {p50:.0f} ms, p95 {p95:.0f} ms")
    print(f"errors: {errors}; RSS growth after warm-up {(rss - base_rss) / base_rss * 100:+.2f} %"
          f" ({(rss - base_rss) / 1024:+.1f} MB); fd growth {fds - base_fds:+d}")  # fmt: skip


if __name__ == "__main__":
    main()
