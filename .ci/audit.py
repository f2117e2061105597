"""CI's dependency audit: pip-audit over the installed environment, with linkrag's policy.

Policy: a known vulnerability in a direct dependency (pyproject's `dependencies`) fails
CI unless its id is listed in .ci/audit-accepted.txt with a reason. Vulnerabilities in
indirect dependencies are reported and do not fail. When the vulnerability service
cannot be reached (pip-audit errors, or it could look up none of the packages), the
audit says so plainly and does not fail: no data is not the same as no findings.

Usage: python .ci/audit.py   (needs `pip install pip-audit`; stdlib otherwise)
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ACCEPTED = Path(__file__).resolve().parent / "audit-accepted.txt"


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def direct_dependencies(pyproject: Path = ROOT / "pyproject.toml") -> set[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    return {_name(r) for r in project["dependencies"]}


def accepted(path: Path = ACCEPTED) -> dict[str, str]:
    """Vulnerability id → reason, from `ID  reason...` lines (# comments allowed)."""
    out: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                vuln, _, reason = line.partition(" ")
                out[vuln] = reason.strip()
    return out


def judge(report: dict[str, Any], direct: set[str], ok: dict[str, str]) -> tuple[int, list[str]]:
    """(exit code, lines to print) for a pip-audit JSON report under the policy."""
    deps = report.get("dependencies", [])
    audited = [d for d in deps if "skip_reason" not in d]
    if deps and not audited:
        return 0, [
            f"audit: NOT RUN: the vulnerability service could look up none of the {len(deps)} "
            "installed packages (it is unreachable from here, or answers 404); no findings "
            "does not mean no vulnerabilities"
        ]
    lines, failing = [], 0
    for dep in audited:
        for vuln in dep.get("vulns", []):
            ids = [vuln["id"], *vuln.get("aliases", [])]
            name = _name(dep["name"])
            fixed = ", ".join(vuln.get("fix_versions", [])) or "none yet"
            where = "direct" if name in direct else "indirect"
            reason = next((ok[i] for i in ids if i in ok), None)
            verdict = f"accepted: {reason}" if reason else "FAIL" if where == "direct" else "warn"
            failing += verdict == "FAIL"
            found = f"{name} {dep['version']} ({where}) {vuln['id']}, fixed in {fixed}"
            lines.append(f"audit: {verdict}: {found}")
    skipped = len(deps) - len(audited)
    lines.append(
        f"audit: {len(audited)} packages checked ({skipped} not on PyPI, skipped), "
        f"{sum(len(d.get('vulns', [])) for d in audited)} known vulnerabilities, "
        f"{failing} failing the policy"
    )
    return (1 if failing else 0), lines


def _audit(service: str) -> dict[str, Any] | str:
    """pip-audit's JSON report from one vulnerability service, or why there is none."""
    command = [sys.executable, "-m", "pip_audit", "--skip-editable", "--vulnerability-service"]
    command += [service, "-f", "json", "--progress-spinner", "off"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600)
    try:
        report: dict[str, Any] = json.loads(run.stdout)
    except ValueError:
        return (run.stderr.strip().splitlines() or ["no output"])[-1]
    looked_up = any("skip_reason" not in d for d in report.get("dependencies", []))
    return report if looked_up else "it could look up none of the installed packages"


def main() -> int:
    reasons = []
    for service in ("pypi", "osv"):  # PyPI's JSON API first, then OSV's
        report = _audit(service)
        if isinstance(report, dict):
            code, lines = judge(report, direct_dependencies(), accepted())
            print(f"audit: vulnerability data from {service}")
            print("\n".join(lines))
            return code
        reasons.append(f"{service}: {report}")
    print(
        "audit: NOT RUN (not failing): no vulnerability service is reachable from here "
        f"({'; '.join(reasons)}); no findings does not mean no vulnerabilities"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
