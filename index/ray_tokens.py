"""BM25 tokenization of a build's new chunks, in this process or on Ray (`executor: ray`).

jieba is the driver's heaviest stage without the model: 42% of a no-model build's CPU at
10k articles. On Ray, tasks of `ray.tokenize.batch_size` texts tokenize on the workers and
the driver only numbers the words (index/tokens.py). Results are taken in submission order,
so the token table, its vocabulary ids and the BM25 index are the same as a local build's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing

from index.lexical import tokenize
from index.settings import RaySettings

log = logging.getLogger(__name__)

# Texts in build order → their token lists, in the same order, one by one.
TokenRunner = Callable[[Sequence[str]], Iterator[list[str]]]


def local_tokens(texts: Sequence[str]) -> Iterator[list[str]]:
    return (tokenize(text) for text in texts)


def token_runner(ray: RaySettings | None) -> TokenRunner:
    """Where a build tokenizes: on the cluster `ray` names, else here."""
    if ray is None:
        return local_tokens
    stage = ray.tokenize

    def run(texts: Sequence[str]) -> Iterator[list[str]]:
        # Joining a cluster costs seconds; a few batches' worth is quicker to do here.
        if len(texts) < 2 * stage.batch_size:
            return local_tokens(texts)
        return _on_ray(texts, ray)

    return run


def _tokenize_batch(texts: list[str]) -> list[list[str]]:
    return list(local_tokens(texts))


def _on_ray(texts: Sequence[str], cluster: RaySettings) -> Iterator[list[str]]:
    from ingest.ray_cluster import batched, connected, import_ray, in_order  # local: no Ray

    ray = import_ray()
    stage = cluster.tokenize
    with connected(ray, cluster.address):
        task = ray.remote(num_cpus=stage.cpus_per_worker, max_retries=3)(_tokenize_batch)
        calls = (task.remote(batch) for batch in batched(texts, stage.batch_size))
        # One task more than the workers: the next batch waits ready while the driver
        # numbers the words of the last one.
        with closing(in_order(ray, calls, stage.concurrency + 1)) as results:
            for tokens in results:
                yield from tokens
    tasks = -(-len(texts) // stage.batch_size)
    log.info("tokenized %d chunks on Ray in %d tasks", len(texts), tasks)
