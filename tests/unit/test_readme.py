"""The README stays true: every function the app registers is in its endpoints table."""

from __future__ import annotations

import re
from pathlib import Path

import function_app
from shared.devhost.functions import indexed_functions

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_function_is_documented() -> None:
    readme = README.read_text()
    documented = set(re.findall(r"`([a-z][a-z0-9_]+)`", readme))
    for name in (function.get_function_name() for function in indexed_functions(function_app.app)):
        # Per-geography functions are listed as `<base>_us`, `_eu`, `_apac`.
        assert name in documented or re.sub(r"_(us|eu|apac)$", "_us", name) in documented, name


def test_the_five_minute_walkthrough_names_the_ports_make_run_uses() -> None:
    from localworld.world import WorldPorts

    section = README.read_text().split("### Try it in five minutes", 1)[1].split("\n### ", 1)[0]
    ports = WorldPorts.stable()
    for url in (
        f"http://127.0.0.1:{ports.epic}/",
        f"http://127.0.0.1:{ports.epic}/mychart",
        f"http://127.0.0.1:{ports.phone}/",
        f"http://127.0.0.1:{ports.entra}/organizations/oauth2/v2.0/authorize",
        f"https://127.0.0.1:{ports.graph}/v1.0",
        f"https://127.0.0.1:{ports.acs}",
    ):
        assert url in section, url
