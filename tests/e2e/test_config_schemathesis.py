"""Schemathesis against the local host with an admin token: generated requests never get a 5xx."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import function_app
from localworld.entra import EntraStandIn
from localworld.epic import EpicStandIn
from shared.devhost.host import DevHost

ROOT = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = 8


def test_generated_requests_get_no_server_errors(epic: EpicStandIn, entra: EntraStandIn, tmp_path: Path) -> None:
    host = DevHost(function_app.app, port=0, timers=False)
    host.start()
    try:
        result = subprocess.run(
            [
                str(Path(sys.executable).parent / "schemathesis"),
                "run",
                str(ROOT / "shared" / "openapi.json"),
                "--url",
                host.base_url,
                "--checks",
                "not_a_server_error",
                "--max-examples",
                str(MAX_EXAMPLES),
                "--phases",
                "examples,coverage,fuzzing",
                "--seed",
                "1",
                "-H",
                f"Authorization: Bearer {entra.admin_token()}",
            ],
            cwd=tmp_path,
            env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
            capture_output=True,
            text=True,
            timeout=540,
        )
    finally:
        host.stop()
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
