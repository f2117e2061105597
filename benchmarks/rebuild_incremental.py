"""Rebuild times of the index over an ingested store: full, unchanged, one article changed,
one article gone.

    python benchmarks/rebuild_incremental.py [--data /work/archive-data] [--cold]

Works on a copy of the data dir's store (and, unless --cold, its embedding cache), so the
source stays untouched. Each step runs `build_index` with a fresh embedder, the way one
`linkrag index` run does, so loading the model counts whenever something must be embedded.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

from index import IndexReport, IndexSettings, build_index, get_embedder
from ingest import ArticleStore

STORE, CACHE = "linkrag.sqlite", "embeddings.sqlite"


def _build(data: Path, settings: IndexSettings, label: str) -> IndexReport:
    started = time.perf_counter()
    with ArticleStore.open(data) as store:
        report = build_index(store, data, settings, embedder=get_embedder(settings))
    seconds = time.perf_counter() - started
    print(
        f"{label:<28} {seconds:7.2f} s  mode {report.mode:<11} chunks {report.chunks:>6}  "
        f"+{report.added} -{report.removed}  embedded {report.embedded}"
    )
    return report


def _edit(data: Path, sql: str) -> None:
    with sqlite3.connect(data / STORE) as db:
        article = db.execute(
            "SELECT id FROM articles WHERE duplicate_of IS NULL AND stale = 0 "
            "ORDER BY length(text) DESC LIMIT 1 OFFSET 100"
        ).fetchone()[0]
        db.execute(sql, (article,))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/archive-data"))
    parser.add_argument("--cold", action="store_true", help="start without the embedding cache")
    args = parser.parse_args()
    settings = IndexSettings()
    with tempfile.TemporaryDirectory(prefix="linkrag-rebuild-") as tmp:
        data = Path(tmp)
        shutil.copy(args.data / STORE, data / STORE)
        if not args.cold and (args.data / CACHE).exists():
            shutil.copy(args.data / CACHE, data / CACHE)
        _build(data, settings, "full build" + (" (cold)" if args.cold else " (cache warm)"))
        _build(data, settings, "nothing changed")
        _edit(data, "UPDATE articles SET text = text || '\n\n新增的一段：补充说明。' WHERE id = ?")
        _build(data, settings, "one article changed")
        _edit(data, "UPDATE articles SET stale = 1 WHERE id = ?")
        _build(data, settings, "one article gone")


if __name__ == "__main__":
    main()
