"""Concurrent chat requests against the web app over loopback, as gradio_client users.

    python benchmarks/ui_concurrency.py [--data DIR] [--requests 20] [--concurrency N]

Without --data it indexes the demo site's files (examples/demo/site, as a `dir:` source)
into a temporary data dir first. It serves `build_app` on 127.0.0.1, warms it with one
question, then starts all requests at once, each from its own client thread, and
prints how many succeeded and the latency p50/p95 (submit → final answer). The server
answers `ui.concurrency` requests at a time; the rest wait in Gradio's queue.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from gradio_client import Client

from assistant import AppConfig, Assistant, UISettings
from assistant.config import RateLimitSettings
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


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _assistant(data: Path | None, workdir: Path, concurrency: int | None) -> Assistant:
    if data is not None:
        config = AppConfig(data_dir=data)
    else:
        site = REPO / "examples" / "demo" / "site"
        config = AppConfig(data_dir=workdir / "data", sources=[f"dir:{site}"])
    # Every simulated user connects from 127.0.0.1: the per-client rate limit would refuse
    # them as one client, so it is off here.
    ui = UISettings(rate_limit=RateLimitSettings(requests=0))
    if concurrency:
        ui = ui.model_copy(update={"concurrency": concurrency})
    config = config.model_copy(update={"ui": ui})
    assistant = Assistant(config)
    if data is None:
        report = assistant.rebuild()
        assert report.index is not None  # nothing stops this rebuild
        print(f"indexed the demo site: {report.index.chunks} chunks in {report.seconds:.1f}s")
    return assistant


def _ask(url: str, question: str, results: list[tuple[bool, float]], go: threading.Event) -> None:
    client = Client(url, verbose=False)  # one client per simulated user
    go.wait()
    started = time.perf_counter()
    try:
        _, history = client.predict(question, [], api_name="/chat")
        ok = history[-1]["role"] == "assistant" and "lr-answer" in str(history[-1]["content"])
    except Exception as exc:  # a failed request is a data point, not the end of the run
        print(f"request failed: {exc}")
        ok = False
    results.append((ok, time.perf_counter() - started))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="an existing data dir with an index")
    parser.add_argument("--requests", type=int, default=20, help="concurrent chat requests")
    parser.add_argument("--concurrency", type=int, help="override ui.concurrency")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        assistant = _assistant(args.data, Path(workdir), args.concurrency)
        app = build_app(assistant)
        launch(app, port=None, prevent_thread_lock=True, quiet=True)
        try:
            Client(app.local_url, verbose=False).predict(QUESTIONS[0], [], api_name="/chat")
            results: list[tuple[bool, float]] = []
            go = threading.Event()
            threads = [
                threading.Thread(
                    target=_ask, args=(app.local_url, QUESTIONS[i % len(QUESTIONS)], results, go)
                )
                for i in range(args.requests)
            ]
            for thread in threads:
                thread.start()
            time.sleep(1.0)  # let every client connect before the starting gun
            wall = time.perf_counter()
            go.set()
            for thread in threads:
                thread.join()
            wall = time.perf_counter() - wall
        finally:
            app.close()
    latencies = [seconds for ok, seconds in results if ok]
    print(
        f"{len(latencies)}/{args.requests} succeeded with ui.concurrency "
        f"{assistant.config.ui.concurrency}; wall {wall:.2f}s"
    )
    if latencies:
        print(
            f"latency p50 {_percentile(latencies, 0.5) * 1000:.0f} ms, "
            f"p95 {_percentile(latencies, 0.95) * 1000:.0f} ms, "
            f"max {max(latencies) * 1000:.0f} ms; mean {statistics.mean(latencies) * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
