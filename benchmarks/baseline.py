"""The issue's naive retrieval pipeline, scored with `linkrag eval`'s metric code.

    python benchmarks/baseline.py eval/dev.jsonl [--data /work/archive-data]
        [--split tune|heldout|all] [-k 30] [--compare] [--no-abstention] [--json]

Built independently of linkrag's index over the same stored articles:
  - fixed 500-character windows of the article text, no overlap, no heading awareness;
  - BM25 (bm25s) over plain jieba tokens (precise mode, lowercased);
  - USE multilingual vectors in a flat inner-product FAISS index;
  - RRF with k=60 and equal weights, no per-article collapsing.
Window vectors are cached in DATA/baseline_cache/ keyed by embedder and window texts, so
reruns skip the ~2 minutes of embedding. Abstention runs linkrag's extractive answerer on
the baseline's hits. `--compare` also evaluates linkrag's hybrid search and prints both
side by side.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from common import load_qa_config, qa_parser
from tqdm import tqdm

from assistant import Assistant
from assistant.evaluation import (
    DEFAULT_K,
    GoldResolver,
    evaluate,
    evaluate_assistant,
    load_qa,
    select_split,
)
from index import Chunk, Embedder, Hit
from ingest import Article, ArticleStore
from ui.output import eval_side_by_side, eval_table

WINDOW = 500
RRF_K = 60
POOL = 100  # candidates taken from each retriever before fusion
_WORDLIKE = re.compile(r"\w")


def naive_windows(articles: Iterable[Article]) -> list[Chunk]:
    """Every article cut into consecutive 500-character windows (the last one shorter)."""
    windows: list[Chunk] = []
    for article in articles:
        text = article.text
        for start in range(0, len(text), WINDOW):
            piece = text[start : start + WINDOW]
            if not piece.strip():
                continue
            windows.append(
                Chunk(
                    chunk_id=f"w{len(windows)}",
                    article_id=article.id or 0,
                    url=article.url,
                    title=article.title,
                    heading="",
                    text=piece,
                    start=start,
                    end=start + len(piece),
                )
            )
    return windows


def naive_tokens(text: str) -> list[str]:
    """Plain jieba tokens of the lowercased text; punctuation and spaces dropped."""
    import jieba

    return [t for t in jieba.lcut(text.lower()) if _WORDLIKE.search(t)]


def embed_windows(windows: list[Chunk], embedder: Embedder, cache_dir: Path) -> np.ndarray:
    """Unit vectors of the windows, from the cache file when the windows are unchanged."""
    digest = hashlib.sha256(embedder.id.encode())
    for window in windows:
        digest.update(window.url.encode() + b"\0" + window.text.encode() + b"\0")
    path = cache_dir / f"windows-{digest.hexdigest()[:20]}.npy"
    if path.exists():
        cached: np.ndarray = np.load(path)
        if cached.shape[0] == len(windows):
            return cached
    order = sorted(range(len(windows)), key=lambda i: len(windows[i].text))  # batch by length
    vectors = np.zeros((len(windows), embedder.dim), dtype=np.float32)
    batch = 64
    with tqdm(total=len(windows), desc="embed windows", file=sys.stderr) as bar:
        for begin in range(0, len(order), batch):
            rows = order[begin : begin + batch]
            vectors[rows] = embedder.embed_batch([windows[i].text for i in rows])
            bar.update(len(rows))
    cache_dir.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp.npy")
    np.save(temporary, vectors)
    temporary.replace(path)
    return vectors


class NaiveSearcher:
    """Dense + BM25 over the windows, fused by plain RRF; a Searcher for the Assistant."""

    def __init__(self, windows: list[Chunk], vectors: np.ndarray, embedder: Embedder) -> None:
        import bm25s
        import faiss

        self.embedder = embedder
        self._windows = windows
        self._vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self._dense = faiss.IndexFlatIP(self._vectors.shape[1])
        self._dense.add(self._vectors)
        self._bm25 = bm25s.BM25()
        self._bm25.index([naive_tokens(w.text) for w in windows], show_progress=False)
        self._vocab: dict[str, int] = self._bm25.vocab_dict

    def embed_query(self, text: str) -> np.ndarray:
        vector: np.ndarray = self.embedder.embed_batch([text], query=True)[0]
        return vector

    def _lexical(self, query: str) -> list[tuple[int, float]]:
        ids = [self._vocab[t] for t in naive_tokens(query) if t in self._vocab]
        if not ids:
            return []
        scores = np.asarray(self._bm25.get_scores(ids))
        top = np.argsort(-scores, kind="stable")[:POOL]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]

    def search(self, query: str, k: int = 8) -> list[Hit]:
        if not query.strip() or k <= 0:
            return []
        vector = self.embed_query(query)
        _, found = self._dense.search(vector.reshape(1, -1).astype(np.float32), POOL)
        dense = [int(i) for i in found[0] if i >= 0]
        lexical = self._lexical(query)
        fused: dict[int, float] = {}
        for ranking in (dense, [row for row, _ in lexical]):
            for rank, row in enumerate(ranking, 1):
                fused[row] = fused.get(row, 0.0) + 1.0 / (RRF_K + rank)
        rows = sorted(fused, key=lambda row: (-fused[row], row))[:k]
        if not rows:
            return []
        bm25 = dict(lexical)
        sims = self._vectors[rows] @ vector.astype(np.float32)
        return [
            Hit(self._windows[row], fused[row], rank, float(sim), bm25.get(row, 0.0))
            for rank, (row, sim) in enumerate(zip(rows, sims, strict=True), 1)
        ]


def build_baseline(data_dir: Path, embedder: Embedder, cache_dir: Path) -> NaiveSearcher:
    started = time.perf_counter()
    with ArticleStore.open(data_dir) as store:
        articles = list(store.iter_articles())
    windows = naive_windows(articles)
    vectors = embed_windows(windows, embedder, cache_dir)
    searcher = NaiveSearcher(windows, vectors, embedder)
    print(
        f"baseline: {len(articles)} articles, {len(windows)} windows of {WINDOW} chars, "
        f"ready in {time.perf_counter() - started:.1f}s",
        file=sys.stderr,
    )
    return searcher


def main(argv: list[str] | None = None) -> int:
    parser = qa_parser(__doc__, data_help="data dir with a store")
    parser.add_argument("--cache", type=Path, help="vector cache dir (default DATA/baseline_cache)")
    parser.add_argument("-k", type=int, default=DEFAULT_K, help="windows searched per question")
    parser.add_argument("--compare", action="store_true", help="also evaluate linkrag hybrid")
    parser.add_argument("--no-abstention", action="store_true", help="skip ask() per question")
    parser.add_argument("--json", action="store_true", help="one JSON object")
    args = parser.parse_args(argv)

    config = load_qa_config(args)
    items = select_split(load_qa(args.qa), args.split)
    linkrag = Assistant(config)
    embedder = linkrag.embedder()  # one USE model for both pipelines
    searcher = build_baseline(args.data, embedder, args.cache or args.data / "baseline_cache")
    naive = Assistant(config, index=searcher)
    resolver = GoldResolver.from_store(args.data)

    def abstains(question: str) -> bool:
        return naive.ask(question).abstained

    metrics = evaluate(
        items,
        lambda q, n: searcher.search(q, n),
        k=args.k,
        abstains=None if args.no_abstention else abstains,
        resolve=resolver,
    )
    reports: dict[str, Any] = {"baseline": metrics}
    if args.compare:
        result = evaluate_assistant(linkrag, items, k=args.k, abstention=not args.no_abstention)
        reports["linkrag"] = result["metrics"]
    if args.json:
        print(json.dumps(reports, ensure_ascii=False))
        return 0
    print(f"{len(items)} questions from {args.qa} (split {args.split}); k {args.k}")
    print(eval_side_by_side(reports) if args.compare else eval_table(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
