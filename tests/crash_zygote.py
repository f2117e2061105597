"""Forks `linkrag` runs from one warm interpreter, for the crash harness.

Importing `ui.cli` costs about 2 s of CPU; thirty killed runs would spend a minute on
imports alone. This process imports it once, then forks one child per request that runs
`ui.cli.main` like the console script does, and reports the child's pid and, once it has
ended (by itself or by the harness's SIGKILL), its wait status.

Protocol, one JSON line each way: {"argv": [...], "env": {...}, "stderr": path} in;
{"pid": n} then {"status": n} out.
"""

from __future__ import annotations

import json
import os
import sys
import warnings

import ui.cli

warnings.simplefilter("ignore", DeprecationWarning)  # fork() with BLAS threads around


def _child(request: dict[str, object]) -> None:
    code = 1
    try:
        os.environ.update({str(k): str(v) for k, v in dict(request["env"]).items()})  # type: ignore[call-overload]
        err = os.open(str(request["stderr"]), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(err, 2)
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        code = ui.cli.main([str(a) for a in request["argv"]])  # type: ignore[attr-defined]
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve() -> None:
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"status": status}), flush=True)


if __name__ == "__main__":
    serve()
