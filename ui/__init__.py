"""ui: the `linkrag` command line and the Gradio web app."""

from ui.render import answer_markdown, hits_markdown

__all__ = ["answer_markdown", "hits_markdown"]
