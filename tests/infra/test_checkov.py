"""checkov finds nothing in infra/, and a template it cannot parse fails the check instead of being skipped.

Skips are written next to the resource they concern (`// checkov:skip=ID: reason`), so the reason is
reviewed with the code.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from bicep_eval import parse_file
from infra_paths import INFRA

CHECKOV = Path(sys.executable).with_name("checkov")


def run_checkov(directory: Path) -> dict[str, Any]:
    """checkov's JSON report for the Bicep under `directory`, offline."""
    completed = subprocess.run(
        [str(CHECKOV), "-d", str(directory), "--framework", "bicep", "-o", "json", "--quiet", "--skip-download"],
        capture_output=True,
        check=False,  # checkov exits 1 on findings; the report says which
        text=True,
        env={"BC_SKIP_MAPPING": "TRUE", "PATH": "/usr/bin:/bin"},
        timeout=300,
    )
    report = json.loads(completed.stdout)
    return report if isinstance(report, dict) else {"reports": report}


def findings(report: dict[str, Any]) -> list[str]:
    """Every reason the report must fail: failed checks, unparsable files, or nothing scanned at all."""
    summary = report.get("summary", {})
    problems = [
        f"{check['check_id']} {check['check_name']} at {check['file_path']}:{check['resource']}"
        for check in report.get("results", {}).get("failed_checks", [])
    ]
    if summary.get("parsing_errors", 0):
        problems.append(f"{summary['parsing_errors']} file(s) checkov could not parse")
    if not summary.get("resource_count"):
        problems.append("checkov scanned no resources")
    return problems


def test_every_template_parses() -> None:
    for path in sorted(INFRA.rglob("*.bicep")):
        parse_file(path)


def test_checkov_finds_nothing() -> None:
    assert findings(run_checkov(INFRA)) == []


def test_checkov_check_fails_on_an_insecure_setting_and_an_unparsable_file(tmp_path: Path) -> None:
    copy = tmp_path / "infra"
    shutil.copytree(INFRA, copy)
    module = copy / "modules" / "storage-account.bicep"
    module.write_text(module.read_text().replace("minimumTlsVersion: 'TLS1_2'", "minimumTlsVersion: 'TLS1_0'"))
    (copy / "modules" / "broken.bicep").write_text(
        "resource broken 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n"
    )
    problems = findings(run_checkov(copy))
    assert any("could not parse" in problem for problem in problems)
    assert any("storage-account.bicep" in problem for problem in problems)
