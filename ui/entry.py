"""The `linkrag` console script: catches Ctrl-C while the heavy modules still import.

`ui.cli.main` handles signals once it runs, but importing it (numpy, FAISS, the
assistant) takes a second or two, and a Ctrl-C then would print a traceback.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    try:
        from ui.cli import main as cli_main
    except KeyboardInterrupt:
        print("linkrag: interrupted", file=sys.stderr)
        return 130
    return cli_main(argv)
