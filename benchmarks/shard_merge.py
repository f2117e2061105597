"""What merging worker-built FAISS sub-indexes costs the driver (`executor: ray`).

Builds sub-indexes of synthetic unit vectors with the workers' own code (index/shards.py
`sub_index`), then times the driver's side: deserializing and `merge_from` of every
sub-index, against adding the same vectors on the driver as a local build does after
training (ivfpq is trained once, as both paths train alike). Prints one line per (kind,
batch size). Usage: OMP_NUM_THREADS=1 python benchmarks/shard_merge.py [vectors] [dim]
"""

from __future__ import annotations

import sys
import time

import faiss
import numpy as np

from index.dense import trained_ivfpq
from index.settings import IndexSettings
from index.shards import Merger, empty_copy, load_template, sub_index


def _vectors(n: int, dim: int) -> np.ndarray:
    x = np.random.default_rng(0).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _run(
    target: faiss.Index | None, vectors: np.ndarray, batch: int, settings: IndexSettings
) -> str:
    """Merge timings for `vectors` in sub-indexes of `batch`, into a copy of `target`."""
    import faiss

    n, kind = len(vectors), settings.dense
    keys = np.arange(n, dtype=np.int64) * 7919 + 2**40
    template = load_template(empty_copy(target))
    blobs = [sub_index(template, vectors[i : i + batch], keys[i : i + batch, None])
             for i in range(0, n, batch)]  # fmt: skip
    merger = Merger(None if target is None else faiss.clone_index(target))
    started = time.perf_counter()
    for blob in blobs:
        merger.merge(blob)
    assert merger.finish(settings).size == n
    merge = time.perf_counter() - started
    local = (
        faiss.IndexIDMap2(faiss.IndexFlatIP(vectors.shape[1]))
        if target is None
        else faiss.clone_index(target)
    )
    started = time.perf_counter()
    local.add_with_ids(vectors, keys)  # what a local build does once its index is trained
    add = time.perf_counter() - started
    mb = sum(len(b) for b in blobs) / 1e6
    return (f"{kind:5} {n} x {vectors.shape[1]}-d in sub-indexes of {batch}: {len(blobs)}, "
            f"{mb:.1f} MB serialized; merging them {merge:.2f} s, adding on the driver "
            f"{add:.2f} s")  # fmt: skip


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    dim = int(sys.argv[2]) if len(sys.argv) > 2 else 512
    vectors = _vectors(n, dim)
    settings = IndexSettings.model_validate({"dense": "ivfpq", "pq_m": 64, "ivf_nlist": 256})
    trained = trained_ivfpq(n, lambda rows: vectors[rows], settings)
    for target in (None, trained):
        kind = "flat" if target is None else "ivfpq"
        for batch in (64, 1024):
            print(_run(target, vectors, batch, settings.model_copy(update={"dense": kind})))


if __name__ == "__main__":
    main()
