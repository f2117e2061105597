"""ui: the `linkrag` command line and the Gradio web app (`ui.web.build_app`).

The names here import no Gradio: rendering is plain functions, so the CLI stays fast.
They load on first access (PEP 562), so `ui.entry` can start the CLI with nothing heavy
imported yet and turn a Ctrl-C during start-up into one line instead of a traceback.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ui.cards import answer_html
    from ui.rebuild import RebuildJob
    from ui.render import answer_markdown, hits_markdown
    from ui.search_view import hits_html

__all__ = ["RebuildJob", "answer_html", "answer_markdown", "hits_html", "hits_markdown"]

_HOME = {
    "RebuildJob": "ui.rebuild",
    "answer_html": "ui.cards",
    "answer_markdown": "ui.render",
    "hits_html": "ui.search_view",
    "hits_markdown": "ui.render",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'ui' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOME[name]), name)
