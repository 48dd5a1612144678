"""Headless Chromium for the browser tests: the system browser, or a clear skip, or under CI a failure.

A developer without Chromium still runs every other test; CI (`CI=true`) installs Chromium, so there a
missing browser means the browser tests did not run, and the run fails rather than pass without them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM_NAMES = ("chromium", "chromium-browser")
BROWSER_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
INSTALL_HINT = "install it (Debian/Ubuntu: apt-get install chromium) or put it on PATH"


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def find_chromium() -> Path | None:
    """The system Chromium on PATH, when Playwright is there to drive it; None otherwise."""
    try:
        import playwright.sync_api  # noqa: F401 - only whether it is installed
    except ImportError:
        return None
    for name in CHROMIUM_NAMES:
        if found := shutil.which(name):
            return Path(found)
    return None


def require_chromium() -> Path:
    """The Chromium to launch; skips the calling test with the reason when there is none, fails under CI."""
    path = find_chromium()
    if path is None:
        reason = f"Chromium (with Playwright) not found: {INSTALL_HINT}"
        if under_ci():
            pytest.fail(f"{reason}; CI=true requires the browser tests to run", pytrace=False)
        pytest.skip(reason)
    return path


@pytest.fixture
def chromium() -> Path:
    """The path of the system Chromium, for `playwright.chromium.launch(executable_path=...)`."""
    return require_chromium()
