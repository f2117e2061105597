"""A private Ray cluster for one benchmark run, in its own session so that its processes
(and their peak memory) can be found, and stopped, without touching anyone else's Ray."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Ray maps 127.0.0.1 to the routable address unless told this is a single-node setup.
RAY_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}


def cluster_env() -> dict[str, str]:
    """This checkout and benchmarks/ importable (by workers too), Ray on loopback only."""
    path = os.pathsep.join([str(REPO), str(REPO / "benchmarks")])
    return {**os.environ, **RAY_ENV, "PYTHONPATH": path, "HF_HUB_OFFLINE": "1"}


def start_cluster(cpus: int, object_store_mb: int = 500) -> tuple[str, int, Path]:
    """`ray start --head` on 127.0.0.1: (address, session id, temp dir). Also the slow
    tests' cluster (tests/ray_support.py)."""
    with socket.socket() as sock:  # a free port: bind 0 and read it back
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    temp = Path(tempfile.mkdtemp(prefix="rays", dir="/tmp"))  # short: Ray's socket paths
    command = [
        str(Path(sys.executable).with_name("ray")),
        "start",
        "--head",
        "--port",
        str(port),
        "--num-cpus",
        str(cpus),
        "--object-store-memory",
        str(object_store_mb * 1_000_000),
        "--temp-dir",
        str(temp),
        "--include-dashboard=false",
        "--disable-usage-stats",
    ]
    start = subprocess.Popen(command, env=cluster_env(), start_new_session=True, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    output, _ = start.communicate(timeout=300)
    if start.returncode != 0:
        raise SystemExit(f"ray start failed: {output[-800:]}")
    return f"127.0.0.1:{port}", start.pid, temp  # setsid: the session id is its pid


def session_usage(session: int, peaks: dict[int, float], cpu: dict[int, float]) -> None:
    """Records each session process's peak RSS (VmHWM, MB) into `peaks` and its CPU seconds
    so far (user + system) into `cpu`: poll often, a process that exits takes both along."""
    for pid, _ in session_pids(session):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        cpu[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peaks[pid] = max(peaks.get(pid, 0.0), int(line.split()[1]) / 1024)


def stop_cluster(session: int, temp: Path) -> None:
    """Ends exactly the processes of that session: TERM, then KILL what is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid, _ in session_pids(session):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                continue
        deadline = time.monotonic() + 5
        while session_pids(session) and time.monotonic() < deadline:
            time.sleep(0.2)
    shutil.rmtree(temp, ignore_errors=True)


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
