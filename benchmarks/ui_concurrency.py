"""Concurrent chat requests against the web app over loopback, as gradio_client users.

    python benchmarks/ui_concurrency.py [--data DIR] [--requests 20] [--concurrency N]

Without --data it indexes the demo site's files (examples/demo/site, as a `dir:` source)
into a temporary data dir first. It serves `build_app` on 127.0.0.1, warms it with one
question, then starts all requests at once, each from its own client thread, and
prints how many succeeded and the latency p50/p95 (submit → final answer). The server
answers `ui.concurrency` requests at a time; the rest wait in Gradio's queue.
`benchmarks/load.py` reuses `serve` and `fire` for its web UI phase.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from gradio_client import Client

from assistant import AppConfig, Assistant
from assistant.config import RateLimitSettings
from assistant.eval_metrics import percentile
from ui.web import build_app, launch

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "ZeRO-3 怎么切分参数、梯度和优化器状态？",
    "What problem does PagedAttention solve, and what is vLLM's default block size?",
    "Llama-2-7B 每个 token 的 KV Cache 占多少显存？",
    "QLoRA 的双重量化能节省多少显存？",
    "How large is the pipeline bubble with 4 stages and 16 micro-batches?",
    "投机采样为什么不会改变目标模型的输出分布？",
    "Why does FlashAttention recompute attention in the backward pass?",
    "AWQ 如何决定哪些权重通道是重要的？",
    "Which environment variables does torchrun set for each worker?",
    "What is the capital of Australia?",
]
# One simulated user's request: (its own client, its question) → whether the reply is sound.
Request = Callable[[Client, str], bool]
Result = tuple[bool, float]  # (sound reply, seconds from the starting gun to the reply)


def chat(client: Client, question: str) -> bool:
    """One chat turn; sound when the last message is an answer (or the fixed reply)."""
    _, history = client.predict(question, [], api_name="/chat")
    return bool(history[-1]["role"] == "assistant" and "lr-answer" in str(history[-1]["content"]))


def summarize(results: Sequence[Result]) -> str:
    """ "19/20 ok, 1 error; p50 .. ms, p95 .. ms, max .. ms" over the sound replies."""
    latencies = [seconds * 1000 for ok, seconds in results if ok]
    errors = len(results) - len(latencies)
    line = f"{len(latencies)}/{len(results)} ok, {errors} error{'s' * (errors != 1)}"
    if latencies:
        p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
        line += f"; p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {max(latencies):.0f} ms"
    return line


def for_load(config: AppConfig, concurrency: int | None = None) -> AppConfig:
    """`config` with the per-client rate limit off (every simulated user connects from
    127.0.0.1, so the limit would refuse them as one client) and, if given, `concurrency`."""
    ui = config.ui.model_copy(update={"rate_limit": RateLimitSettings(requests=0)})
    if concurrency:
        ui = ui.model_copy(update={"concurrency": concurrency})
    return config.model_copy(update={"ui": ui})


def _assistant(data: Path | None, workdir: Path, concurrency: int | None) -> Assistant:
    if data is not None:
        config = AppConfig(data_dir=data)
    else:
        site = REPO / "examples" / "demo" / "site"
        config = AppConfig(data_dir=workdir / "data", sources=[f"dir:{site}"])
    assistant = Assistant(for_load(config, concurrency))
    if data is None:
        report = assistant.rebuild()
        assert report.index is not None  # nothing stops this rebuild
        print(f"indexed the demo site: {report.index.chunks} chunks in {report.seconds:.1f}s")
    return assistant


@contextmanager
def serve(assistant: Assistant) -> Iterator[str]:
    """The real web app on 127.0.0.1 (a free port), warmed by one chat; yields its URL."""
    app = build_app(assistant)
    launch(app, port=None, prevent_thread_lock=True, quiet=True)
    try:
        chat(Client(app.local_url, verbose=False), QUESTIONS[0])
        yield str(app.local_url)
    finally:
        app.close()


def _user(
    url: str, request: Request, question: str, results: list[Result], go: threading.Event
) -> None:
    client = Client(url, verbose=False)  # one client per simulated user
    go.wait()
    started = time.perf_counter()
    try:
        ok = request(client, question)
    except Exception as exc:  # a failed request is a data point, not the end of the run
        print(f"request failed: {exc}")
        ok = False
    results.append((ok, time.perf_counter() - started))


def fire(
    url: str, request: Request, questions: Sequence[str], users: int
) -> tuple[list[Result], float]:
    """`users` clients connect, then all send one request at once; (results, wall seconds)."""
    results: list[Result] = []
    go = threading.Event()
    threads = [
        threading.Thread(
            target=_user, args=(url, request, questions[i % len(questions)], results, go)
        )
        for i in range(users)
    ]
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # let every client connect before the starting gun
    wall = time.perf_counter()
    go.set()
    for thread in threads:
        thread.join()
    return results, time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="an existing data dir with an index")
    parser.add_argument("--requests", type=int, default=20, help="concurrent chat requests")
    parser.add_argument("--concurrency", type=int, help="override ui.concurrency")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        assistant = _assistant(args.data, Path(workdir), args.concurrency)
        with serve(assistant) as url:
            results, wall = fire(url, chat, QUESTIONS, args.requests)
    print(
        f"{summarize(results)} with ui.concurrency {assistant.config.ui.concurrency};"
        f" wall {wall:.2f}s"
    )


if __name__ == "__main__":
    main()
