"""How the kinds of dense index are sized and trained: the IVF list and PQ code counts for a
corpus, and an empty IVF-PQ index trained on a sample (index/dense.py builds on these, and
index/shards.py ships the trained empty index to Ray workers)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from index.settings import IndexSettings

if TYPE_CHECKING:
    import faiss

log = logging.getLogger("index.dense")

MIN_IVFPQ_VECTORS = 1000  # below this IVF-PQ training is noise, and flat search is instant
_MIN_PER_LIST = 39  # faiss's k-means wants at least this many training points per centroid
_TRAIN_PER_LIST = 64  # enough for stable centroids; more only slows training


class DenseSettingsError(ValueError):
    """The dense settings cannot fit these vectors; the message names the fix."""

    where = "`linkrag: error:` (as IndexBuildError), exit 2"
    cause = (
        "The dense index settings cannot fit these vectors, e.g. `index.pq_m` does not "
        "divide the embedding dimension."
    )
    fix = (
        "Set the named `index.*` setting as the message suggests (for `pq_m`: a divisor "
        "of the dimension, or 0 for auto)."
    )


def uses_ivfpq(n: int, settings: IndexSettings) -> bool:
    """Whether n vectors get an IVF-PQ index: asked for, and enough of them to train one."""
    if settings.dense == "ivfpq" and n < MIN_IVFPQ_VECTORS:
        log.warning("only %d vectors: using a flat dense index instead of ivfpq (needs %d)",
                    n, MIN_IVFPQ_VECTORS)  # fmt: skip
    return settings.dense == "ivfpq" and n >= MIN_IVFPQ_VECTORS


def ivf_lists(n: int, settings: IndexSettings) -> int:
    """The IVF list count for n vectors: the configured one (0 = 4·sqrt(n)), clamped so each
    list gets enough training points."""
    wanted = settings.ivf_nlist or max(1, round(4 * math.sqrt(n)))
    cap = max(1, n // _MIN_PER_LIST)
    if wanted > cap and settings.ivf_nlist:
        log.warning("ivf_nlist %d is too many for %d vectors: using %d", wanted, n, cap)
    return min(wanted, cap)


def pq_subquantizers(dim: int, settings: IndexSettings) -> int:
    """The PQ sub-quantizer count for `dim`: the configured one, or (0 = auto) two dimensions
    per code. Fewer codes lost too much recall on clustered 512-d data (0.70 at 64 codes,
    0.85 at 128, 0.95 at 256; see benchmarks/scale_dense.py)."""
    m = settings.pq_m or (dim // 2 if dim % 2 == 0 else dim)
    if dim % m:
        divisors = [d for d in range(1, dim + 1) if dim % d == 0 and d <= dim // 2]
        raise DenseSettingsError(
            f"index.pq_m={m} does not divide the embedding dimension {dim}: set index.pq_m "
            f"to a divisor of {dim} (e.g. {', '.join(map(str, divisors[-3:])) or dim}) or 0"
        )
    return m


def trained_ivfpq(
    n: int, sample: Callable[[np.ndarray], np.ndarray], settings: IndexSettings
) -> faiss.Index:
    """An empty IVF-PQ index for n vectors, trained on the rows `sample` returns for the
    row numbers it is given, so a Ray build can embed exactly the rows a local one trains on."""
    import faiss

    nlist, bits = ivf_lists(n, settings), settings.pq_bits
    size = max(_TRAIN_PER_LIST * nlist, _MIN_PER_LIST << bits)
    rows = np.sort(np.random.default_rng(0).choice(n, min(n, size), False))
    matrix = np.ascontiguousarray(sample(rows), dtype=np.float32)
    dim = int(matrix.shape[1])
    m = pq_subquantizers(dim, settings)
    ivf = faiss.IndexIVFPQ(faiss.IndexFlatIP(dim), dim, nlist, m, bits, faiss.METRIC_INNER_PRODUCT)
    if n < _MIN_PER_LIST << bits:
        log.warning("ivfpq trained on %d vectors, fewer than the %d that %d-bit codes want: "
                    "recall may suffer (use dense: flat for a corpus this small)",
                    n, _MIN_PER_LIST << bits, bits)  # fmt: skip
        ivf.pq.cp.min_points_per_centroid = 1  # we warned once; faiss would warn per sub-quantizer
    ivf.train(matrix)
    # id → code, for `similarity`; DirectMap is in the SWIG module but not in faiss's stubs
    ivf.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]
    return ivf
