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
