"""The browser tests' rule: run with the system Chromium, skip with a reason without it, fail under CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import find_chromium, require_chromium


def test_without_chromium_a_browser_test_skips_with_the_reason(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CI", raising=False)
    assert find_chromium() is None
    with pytest.raises(pytest.skip.Exception, match=r"Chromium .* not found: install it"):
        require_chromium()


@pytest.mark.parametrize("ci", ["true", "TRUE"])
def test_under_ci_a_missing_chromium_fails_the_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ci: str) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match="CI=true requires the browser tests to run"):
        require_chromium()


def test_a_chromium_on_path_is_the_one_launched(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pytest.importorskip("playwright.sync_api")
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CI", "true")
    assert require_chromium() == fake
