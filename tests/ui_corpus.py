"""A real store and index for the UI tests: ARTICLES behind a reading list over loopback.

Not a test module. A loopback HTTP server (alive inside `ui_corpus`) serves a reading
list whose sections link to the articles, plus one link to a page that answers 404, so
the fetch ledger holds exactly one failure. The bread article comes from a `dir:` source
instead, so the library also has an article that no reading list links to.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from test_assistant_corpus import ARTICLES

from assistant import AppConfig, Assistant
from ingest import FetchSettings

READING_LIST = """# LLM reading list

## Inference
- [PagedAttention](/paged-attention.md)
- [Speculative decoding notes](/spec.md)

## Training
### 分布式
- [ZeRO](/zero.md)
- [A deleted post](/gone)

## Fine-tuning
- [LoRA](/lora.md)

## Kernels
- [FlashAttention](/flash-attention.md)
"""

SPEC = """# Speculative decoding

A small draft model proposes several tokens and the large model verifies them in one
forward pass, so generation gets faster without changing the output distribution.
The speed-up depends on how often the large model accepts the draft model's tokens,
which is why the draft model should be trained on similar data and share the tokenizer.
"""

GONE_PATH = "/gone"


def _handler(routes: dict[str, bytes]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = routes.get(self.path)
            self.send_response(404 if body is None else 200)
            self.send_header("Content-Type", "text/markdown; charset=utf-8")
            payload = body if body is not None else b"not found"
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@dataclass
class Corpus:
    data_dir: Path
    config: AppConfig
    list_url: str
    gone_url: str

    def url(self, name: str) -> str:
        """The loopback URL of an article by file name, e.g. "paged-attention"."""
        return self.list_url.replace("list.md", f"{name}.md")


@contextmanager
def ui_corpus(root: Path) -> Iterator[Corpus]:
    """Build the store and index under root/data; the list server runs inside the block."""
    docs = root / "docs"
    docs.mkdir(parents=True)
    routes = {"/list.md": READING_LIST.encode(), "/spec.md": SPEC.encode()}
    for article in ARTICLES:
        name = article.url.rsplit("/", 1)[-1].removesuffix(".md")
        if name == "bread":
            (docs / f"{name}.md").write_text(article.text, encoding="utf-8")
        else:
            routes[f"/{name}.md"] = article.text.encode()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(routes))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    fetch = FetchSettings(allow_loopback=True, per_host_delay=0.0, robots=False, retries=0)
    config = AppConfig(
        data_dir=root / "data", sources=[f"dir:{docs}", f"list:{base}/list.md"], fetch=fetch
    )
    try:
        Assistant(config).rebuild()
        yield Corpus(root / "data", config, f"{base}/list.md", base + GONE_PATH)
    finally:
        server.shutdown()
        server.server_close()
