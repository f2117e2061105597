"""Shared fixtures: a network guard, isolated state, and a loopback HTTP server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from netguard import loopback_only

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
DEMO = REPO / "examples" / "demo"


@pytest.fixture(autouse=True, scope="session")
def _network_guard() -> Iterator[None]:
    """Fail any test that opens a socket to anything but loopback."""
    with loopback_only():
        yield


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own data dir, and no LINKRAG_* setting leaks in."""
    for key in list(os.environ):
        if key.startswith("LINKRAG_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("LINKRAG_DATA", str(tmp_path / "data"))


@dataclass
class Route:
    """A canned response of the loopback server.

    `delay` sleeps before answering (slow routes). `handler`, when set, answers instead of
    the canned fields: it gets the live BaseHTTPRequestHandler and writes the whole
    response itself (dynamic routes: flaky, conditional GET, slow drip, ...).
    """

    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    handler: Callable[[BaseHTTPRequestHandler], None] | None = None


@dataclass
class LoopbackServer:
    """A real HTTP server on 127.0.0.1 serving `routes`; `hits` counts requests per path."""

    base: str
    routes: dict[str, Route]
    hits: dict[str, int]
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # path, headers

    def url(self, path: str) -> str:
        return self.base + path


def _handler(
    routes: dict[str, Route], hits: dict[str, int], requests: list[tuple[str, dict[str, str]]]
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits[self.path] = hits.get(self.path, 0) + 1
            requests.append((self.path, dict(self.headers.items())))
            route = routes.get(self.path)
            if route is None:
                route = Route(b"not found", "text/plain", 404)
            if route.delay:
                time.sleep(route.delay)
            if route.handler is not None:
                route.handler(self)
                return
            self.send_response(route.status)
            self.send_header("Content-Type", route.content_type)
            self.send_header("Content-Length", str(len(route.body)))
            for key, value in route.headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(route.body)

        # Routes answer POST alike; a `handler` route reads the request body itself
        # (the fake OpenAI endpoint records what it was sent).
        do_POST = do_GET

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output clean

    return Handler


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that went away
            super().handle_error(request, client_address)


def serve_routes(routes: dict[str, Route]) -> tuple[ThreadingHTTPServer, LoopbackServer]:
    """A running loopback server for `routes`; the caller shuts it down."""
    hits: dict[str, int] = {}
    requests: list[tuple[str, dict[str, str]]] = []
    server = _QuietServer(("127.0.0.1", 0), _handler(routes, hits, requests))
    server.daemon_threads = True  # a slow route must not hold up shutdown
    # A short poll interval keeps shutdown (once per test) from adding half a second.
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    return server, LoopbackServer(base, routes, hits, requests)


@pytest.fixture
def loopback_server() -> Iterator[Callable[[dict[str, Route]], LoopbackServer]]:
    """Start loopback servers on demand; all are shut down after the test."""
    servers: list[ThreadingHTTPServer] = []

    def start(routes: dict[str, Route]) -> LoopbackServer:
        server, loopback = serve_routes(routes)
        servers.append(server)
        return loopback

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def demo_routes() -> dict[str, Route]:
    """The offline demo's files as loopback routes (path relative to examples/demo/site)."""
    site = DEMO / "site"
    routes: dict[str, Route] = {}
    for file in sorted(site.rglob("*")):
        if file.is_file():
            html = file.suffix == ".html"
            ctype = "text/html; charset=utf-8" if html else "text/markdown; charset=utf-8"
            routes["/" + file.relative_to(site).as_posix()] = Route(file.read_bytes(), ctype)
    return routes


@pytest.fixture(scope="session")
def use_model() -> Any:
    """One real USE model for the whole session: loading it costs about 2 s."""
    from index import IndexSettings, get_embedder

    return get_embedder(IndexSettings())


@pytest.fixture(scope="module")
def use(use_model: Any) -> Iterator[Any]:
    """The session's USE model, registered as "use-m3" through the real registry, so code
    that builds its embedder from config (Assistant, the CLI) gets this same instance."""
    from index import register_embedder
    from index.embedders import unregister_embedder

    register_embedder("use-m3", lambda settings: use_model)
    yield use_model
    unregister_embedder("use-m3")


def fill_store(data_dir: Path, articles: list[Any]) -> None:
    """Add `articles` (ingest.Article) to the article store in data_dir."""
    from ingest import ArticleStore

    data_dir.mkdir(parents=True, exist_ok=True)
    with ArticleStore.open(data_dir) as store:
        for article in articles:
            store.add_article(article)


@pytest.fixture(scope="session")
def _built_corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Holds the one store + index of the test corpus, built by the first `data_dir` user."""
    return {}


@pytest.fixture(scope="module")
def data_dir(
    tmp_path_factory: pytest.TempPathFactory, use: Any, _built_corpus: dict[str, Path]
) -> Path:
    """A data dir with test_assistant_corpus.ARTICLES stored and indexed, one per module.

    Embedding the corpus is built once a session; each module gets its own copy, so a
    module that writes to its data dir (feedback, reindex) cannot leak into another.
    """
    from test_assistant_corpus import ARTICLES

    from assistant import AppConfig, Assistant

    if "data" not in _built_corpus:
        folder = tmp_path_factory.mktemp("corpus") / "data"
        fill_store(folder, ARTICLES)
        Assistant(AppConfig(data_dir=folder)).reindex()
        _built_corpus["data"] = folder
    copy = tmp_path_factory.mktemp("module") / "data"
    shutil.copytree(_built_corpus["data"], copy)
    return copy


@pytest.fixture
def assistant(data_dir: Path) -> Any:
    """An Assistant over the module's `data_dir`, fresh for every test."""
    from assistant import AppConfig, Assistant

    return Assistant(AppConfig(data_dir=data_dir))


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[tuple[str, int]]:
    """A local Ray cluster on 127.0.0.1 (tests/ray_support.py), one for the whole run (its
    start and stop cost 20-25 s, paid once for the ingest and index modules); yields
    (address, session id); skips when Ray is not installed."""
    from ray_support import start_cluster

    yield from start_cluster()


@pytest.fixture
def one_faiss_thread() -> Iterator[None]:
    """Tiny trainings gain nothing from threads, and OpenMP spin-waits badly on a busy box."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


@pytest.fixture(scope="session")
def shared_corpus() -> Path:
    """The shared WARC archive; tests that need it skip cleanly when ../shared is absent."""
    warc = SHARED / "corpus" / "llm-articles.warc.gz"
    if not warc.exists():
        pytest.skip("../shared/corpus is absent")
    return warc


def run_cli(data_dir: Path, *args: str, stdin: str | None = None) -> str:
    """The installed CLI as a real subprocess over `data_dir`; its stdout (it must succeed)."""
    env = {"LINKRAG_DATA": str(data_dir), "HF_HUB_OFFLINE": "1", "PATH": ""}
    cli = [sys.executable, "-c", "import sys; from ui.cli import main; sys.exit(main())"]
    done = subprocess.run(
        [*cli, *args], input=stdin, capture_output=True, text=True, env=env, cwd=REPO
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="session")
def shared_archive(shared_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data dir of one local `linkrag build` of the whole shared archive (about 3 min,
    mostly embedding 12.7k chunks), made once a session for every test that needs it.
    Tests read it; one that writes must work on a copy."""
    data = tmp_path_factory.mktemp("archive") / "data"
    run_cli(data, "build", "--replay", str(shared_corpus), "--source", f"warc:{shared_corpus}")
    return data
