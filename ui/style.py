"""The app's CSS: source cards, highlights, tables, and a layout that fits a phone."""

CSS = """
.lr-answer p { margin: 0 0 .5em; }
.lr-ref { text-decoration: none; font-weight: 600; }
.lr-unsupported { text-decoration: underline wavy #d97706; background: #fef3c7; }
.lr-note, .lr-meta { color: var(--body-text-color-subdued); font-size: .9em; }
.lr-sources { display: grid; gap: .5em; margin-top: .75em; }
.lr-card, .lr-hit { border: 1px solid var(--border-color-primary); border-radius: 8px;
  padding: .5em .75em; background: var(--background-fill-secondary); }
.lr-card:target { outline: 2px solid var(--color-accent); }
.lr-card blockquote { margin: .35em 0; padding-left: .6em;
  border-left: 3px solid var(--color-accent); }
.lr-card-head { display: flex; gap: .5em; align-items: baseline; }
.lr-n { font-weight: 700; min-width: 1.4em; }
.lr-title { font-weight: 600; overflow-wrap: anywhere; }
.lr-open { font-size: .9em; }
.lr-hits { display: grid; gap: .6em; }
.lr-snippet mark { background: #fde68a; color: inherit; padding: 0 1px; }
.lr-table { width: 100%; border-collapse: collapse; font-size: .92em; }
.lr-table td, .lr-table th { padding: .2em .4em;
  border-bottom: 1px solid var(--border-color-primary); text-align: left; vertical-align: top; }
.lr-num { text-align: right; }
.lr-url { overflow-wrap: anywhere; max-width: 28em; }
.lr-status { display: grid; grid-template-columns: max-content 1fr; gap: .15em 1em; }
.lr-status dd { margin: 0; overflow-wrap: anywhere; }
.lr-banner { border: 1px solid #d97706; background: #fffbeb; color: #78350f; border-radius: 8px;
  padding: .6em .9em; }
.lr-banner code { user-select: all; }
.lr-error { color: #b91c1c; }
.lr-ok, .lr-reachable { color: #15803d; }
.lr-not-reachable { color: #b91c1c; }
progress { width: 100%; }
@media (max-width: 640px) {
  .gradio-container { padding: 4px !important; }
  #lr-chat { height: 70vh !important; }
  .lr-table { display: block; overflow-x: auto; white-space: nowrap; }
  .lr-url { max-width: 16em; }
  .lr-card, .lr-hit { padding: .4em .5em; }
  .lr-buttons { flex-wrap: wrap; }
}
"""
