"""Joining a Ray cluster (`executor: ray`), shared by Ray ingest and Ray embedding.

Imported only when `executor: ray`: this module imports Ray itself lazily, inside
`import_ray`, so a local build never loads it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

from ingest.settings import RayIngestSettings

__all__ = ["ClusterError", "RayIngest", "batched", "connected", "import_ray", "in_order"]

T = TypeVar("T")


@dataclass(frozen=True)
class RayIngest:
    """An ingest run on Ray: the cluster to join (`ray.address`) and `ray.ingest`."""

    address: str
    stage: RayIngestSettings


class ClusterError(Exception):
    """Ray is not installed, or the configured cluster cannot be reached."""

    cause = (
        "`executor: ray` is set, but Ray (with Ray Data) is not installed, or no Ray cluster "
        "answers at `ray.address`."
    )
    fix = (
        "`pip install 'linkrag[ray]'` and start the cluster (`ray start --head`), fix "
        "`ray.address`, or set `executor: local`."
    )


def import_ray() -> ModuleType:
    """Ray with Ray Data, or a one-line error naming the fix."""
    try:
        import ray
        import ray.data  # map_batches lives here; a bare `ray` install lacks it
    except ImportError as exc:
        raise ClusterError(
            f"executor: ray needs Ray ({exc.msg}): pip install 'linkrag[ray]', or set "
            "executor: local"
        ) from exc
    module: ModuleType = ray  # mypy does not follow into Ray (pyproject), so name the type
    return module


@contextmanager
def connected(ray: Any, address: str) -> Iterator[None]:
    """Joins the cluster for the duration of a stage (a session already open is reused)."""
    if ray.is_initialized():
        yield
        return
    try:
        ray.init(address=address or None, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = address or "a new local Ray"
        raise ClusterError(
            f"cannot start Ray at {where} ({str(exc).splitlines()[0]}): check ray.address, "
            "or start the cluster with `ray start --head`"
        ) from exc
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the build reports its own progress
        context.print_on_execution_start = False
        yield
    finally:
        ray.shutdown()


def in_order(ray: Any, calls: Iterable[Any], window: int) -> Generator[Any, None, None]:
    """The results of `calls` (task refs, submitted as pulled) in order, `window` in flight."""
    pending: deque[Any] = deque()
    try:
        for ref in calls:
            pending.append(ref)
            if len(pending) >= window:
                yield ray.get(pending.popleft())
        while pending:
            yield ray.get(pending.popleft())
    finally:
        for ref in pending:  # stopped early: what is still running is not wanted
            ray.cancel(ref)


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """`items` in lists of `size`, each made when asked for (tasks are submitted as pulled)."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
