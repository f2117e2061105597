"""A real local Ray cluster for the slow tier: `ray start --head` on 127.0.0.1 with 2 CPUs
and a temp dir, stopped by killing exactly the processes of the session it opened.

The cluster itself is benchmarks/raycluster.py's (the cost-curve benchmark starts the same
kind); this module adds the test side: skip without Ray, and the driver's environment.
tests/conftest.py's session-scoped `ray_cluster` fixture uses it: one cluster, shared by
every test module that asks for it.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent


def _raycluster() -> ModuleType:
    """benchmarks/raycluster.py, loaded by path: benchmarks/ is not a package."""
    spec = importlib.util.spec_from_file_location(
        "raycluster", REPO / "benchmarks" / "raycluster.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_CLUSTER = _raycluster()
session_pids = _CLUSTER.session_pids


def start_cluster() -> Iterator[tuple[str, int]]:
    """`ray start --head` on 127.0.0.1 with 2 CPUs; yields (address, session id) and
    stops exactly the processes it started."""
    ray_env = _CLUSTER.RAY_ENV
    saved = {key: os.environ.get(key) for key in ray_env}
    # Before Ray is imported (it reads these once): the driver must agree on 127.0.0.1.
    os.environ.update(ray_env)
    pytest.importorskip("ray.data", reason="Ray is not installed (pip install 'linkrag[ray]')")
    address, session, temp = _CLUSTER.start_cluster(2, object_store_mb=200)
    try:
        yield address, session
    finally:
        _CLUSTER.stop_cluster(session, temp)
        for key, value in saved.items():
            os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)
