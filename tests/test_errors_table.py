"""The README's error table is the one generated from the error classes, and covers all."""

from __future__ import annotations

import pytest
from conftest import REPO

from ui.errors_table import (
    END,
    START,
    error_classes,
    main,
    markdown_table,
    readme_table,
    undocumented,
)

KNOWN = {
    "SourceError", "StoreError", "PdfError", "BodyTooLarge", "BadEncoding", "Interrupted",
    "DenseSettingsError", "IndexBuildError", "IndexLoadError", "IndexNotFoundError",
    "IndexMismatchError", "QAFileError", "ConfigError", "UsageError",
}  # fmt: skip


def test_every_error_class_has_its_own_cause_and_fix() -> None:
    classes = error_classes()
    assert {c.__name__ for c in classes} >= KNOWN  # discovery finds them all
    assert not any(c.__name__.startswith("_") for c in classes)  # private ones stay internal
    assert undocumented(classes) == [], "add `cause` and `fix` class attributes"


def test_readme_table_is_the_generated_one() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert readme_table(readme) == markdown_table(), (
        "README error table is stale: run `python -m ui.errors_table --write`"
    )


def test_table_rows_and_exit_codes_match_the_cli() -> None:
    table = markdown_table()
    assert table.count("\n") == len(error_classes()) + 1
    assert "| `ConfigError` (assistant) | `linkrag: error:`, exit 2 |" in table
    assert "| `StoreError` (ingest) | `linkrag: error:`, exit 1 |" in table
    assert "| `BodyTooLarge` (ingest) | fetch ledger: `too_large` |" in table


def test_an_undocumented_error_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    from ingest import pdf

    monkeypatch.delattr(pdf.PdfError, "fix")
    assert undocumented(error_classes()) == ["ingest.pdf.PdfError"]
    assert main([]) == 1
    assert readme_table("no markers here") is None
    assert readme_table(f"x\n{START}\n| a |\n{END}\n") == "| a |"
