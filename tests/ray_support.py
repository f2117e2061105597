"""A real local Ray cluster for the slow tier: `ray start --head` on 127.0.0.1 with 2 CPUs
and a temp dir, stopped by killing exactly the processes of the session it opened.

tests/conftest.py's session-scoped `ray_cluster` fixture uses it: one cluster, shared by
every test module that asks for it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cluster_env() -> dict[str, str]:
    # Ray maps 127.0.0.1 to the machine's routable address unless told that this is a
    # single-node setup; with it every Ray socket stays on loopback.
    return {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}


def start_cluster() -> Iterator[tuple[str, int]]:
    """`ray start --head` on 127.0.0.1 with 2 CPUs; yields (address, session id) and
    stops exactly the processes it started."""
    saved = {key: os.environ.get(key) for key in _cluster_env()}
    # Before Ray is imported (it reads these once): the driver must agree on 127.0.0.1.
    os.environ.update(_cluster_env())
    pytest.importorskip("ray.data", reason="Ray is not installed (pip install 'linkrag[ray]')")
    temp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # short: Ray's socket paths
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # workers import this checkout
    ray_bin = str(Path(sys.executable).with_name("ray"))
    command = [ray_bin, "start", "--head", "--port", str(port), "--num-cpus", "2",
               "--object-store-memory", "200000000", "--temp-dir", str(temp),
               "--include-dashboard=false", "--disable-usage-stats"]  # fmt: skip
    # A new session: every process the cluster spawns stays in it.
    start = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)  # fmt: skip
    session = start.pid
    try:
        output, _ = start.communicate(timeout=120)
        assert start.returncode == 0, output[-2000:]
        yield f"127.0.0.1:{port}", session
    finally:
        stop_session(session)
        shutil.rmtree(temp, ignore_errors=True)
        for key, value in saved.items():
            os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)


def session_pids(session: int) -> list[tuple[int, str]]:
    """(pid, process title) of every process in the cluster's session. Ray workers get
    process groups of their own, but all stay in the session `ray start` opened."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().decode(errors="replace")
            if os.getsid(int(entry.name)) == session:
                found.append((int(entry.name), title))
        except OSError:  # gone meanwhile
            continue
    return found


def stop_session(session: int) -> None:
    for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
        for pid, _ in session_pids(session):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                continue
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and session_pids(session):
            time.sleep(0.2)
        if not session_pids(session):
            return
