"""ui: the `linkrag` command line and the Gradio web app (`ui.web.build_app`).

The names here import no Gradio: rendering is plain functions, so the CLI stays fast.
"""

from ui.cards import answer_html
from ui.rebuild import RebuildJob
from ui.render import answer_markdown, hits_markdown
from ui.search_view import hits_html

__all__ = ["RebuildJob", "answer_html", "answer_markdown", "hits_html", "hits_markdown"]
