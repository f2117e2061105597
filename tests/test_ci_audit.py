"""The dependency audit's policy (.ci/audit.py) on pip-audit JSON reports.

pip-audit's vulnerability services are not reachable from the test machine, so the
reports here are written out in pip-audit's JSON shape; the run itself is CI's.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from conftest import REPO


def _audit() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ci_audit", REPO / ".ci" / "audit.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


AUDIT = _audit()
VULN = {"id": "PYSEC-2099-1", "aliases": ["GHSA-xxxx"], "fix_versions": ["9.9"]}


def _report(*deps: dict[str, object]) -> dict[str, object]:
    return {"dependencies": list(deps)}


def test_a_vulnerable_direct_dependency_fails_unless_accepted() -> None:
    direct = AUDIT.direct_dependencies()
    assert {"gradio", "httpx", "pydantic", "torch", "lxml-html-clean"} <= direct
    report = _report({"name": "Gradio", "version": "6.0", "vulns": [VULN]})
    code, lines = AUDIT.judge(report, direct, {})
    assert code == 1 and "audit: FAIL: gradio 6.0 (direct) PYSEC-2099-1, fixed in 9.9" in lines
    code, lines = AUDIT.judge(report, direct, {"GHSA-xxxx": "no upload route in use"})
    assert code == 0 and "accepted: no upload route in use" in lines[0]


def test_indirect_findings_warn_and_unreachable_service_says_not_run() -> None:
    direct = AUDIT.direct_dependencies()
    report = _report(
        {"name": "urllib3", "version": "1.0", "vulns": [VULN]},
        {"name": "httpx", "version": "0.28", "vulns": []},
        {"name": "local-only", "skip_reason": "Dependency not found on PyPI"},
    )
    code, lines = AUDIT.judge(report, direct, {})
    assert code == 0 and lines[0].startswith("audit: warn: urllib3 1.0 (indirect)")
    assert lines[-1].startswith("audit: 2 packages checked (1 not on PyPI, skipped), 1 known")
    skipped = _report(*[{"name": n, "skip_reason": "not found"} for n in ("a", "b")])
    code, lines = AUDIT.judge(skipped, direct, {})
    assert code == 0 and lines[0].startswith("audit: NOT RUN")


def test_accepted_file_reads_ids_and_reasons(tmp_path: Path) -> None:
    path = tmp_path / "accepted.txt"
    path.write_text("# comment\nPYSEC-1  reason one  # note\n\nGHSA-2 two\n", encoding="utf-8")
    assert AUDIT.accepted(path) == {"PYSEC-1": "reason one", "GHSA-2": "two"}
    assert AUDIT.accepted(REPO / ".ci" / "audit-accepted.txt") == {}
