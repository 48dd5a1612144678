"""Schemathesis against the local host, from the OpenAPI document, without a token and with an admin's:
generated requests (examples, coverage of every operation's edge values, fuzzing) never get a 5xx.

FUZZ_EXAMPLES (see tests/fuzz/conftest.py) sets the examples per operation; `make fuzz` raises it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import function_app
from localworld.entra import EntraStandIn
from localworld.epic import EpicStandIn
from shared.devhost.host import DevHost

ROOT = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES") or 8)


@pytest.mark.parametrize("caller", ["admin", "anonymous"])
def test_generated_requests_get_no_server_errors(
    caller: str, epic: EpicStandIn, entra: EntraStandIn, tmp_path: Path
) -> None:
    authorization = ["-H", f"Authorization: Bearer {entra.admin_token()}"] if caller == "admin" else []
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
                *authorization,
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
