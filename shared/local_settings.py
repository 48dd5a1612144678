"""local.settings.json for the commands run beside the app (the local host, operator commands), as Core Tools
reads it: its Values go into the environment, and variables already set win."""

from __future__ import annotations

import json
import os
from pathlib import Path


def load_local_settings(path: Path) -> None:
    """Put local.settings.json's Values into the environment without overriding what is set."""
    if not path.exists():
        print(f"No {path.name}: using the environment only (copy local.settings.sample.json to start).")
        return
    values = json.loads(path.read_text(encoding="utf-8")).get("Values", {})
    for name, value in values.items():
        os.environ.setdefault(name, str(value))
    print(f"Settings: {path}")
