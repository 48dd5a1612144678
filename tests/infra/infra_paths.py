"""Where the templates live, and the literal values of their parameter file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
MAIN = INFRA / "main.bicep"
MODULES = INFRA / "modules"


def default_parameters() -> dict[str, Any]:
    """Parameter values of main.parameters.json that are literal (azd placeholders `${...}` left out)."""
    document = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))
    return {
        name: entry["value"]
        for name, entry in document["parameters"].items()
        if not (isinstance(entry["value"], str) and entry["value"].startswith("${"))
    }
