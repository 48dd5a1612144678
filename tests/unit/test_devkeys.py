"""`make run` creates the development Epic key the sample settings point at, and never overwrites one."""

from __future__ import annotations

from pathlib import Path

from shared.adapters.smart import load_signing_key
from shared.devhost.devkeys import ensure_development_key


def test_a_missing_key_file_is_created_once(tmp_path: Path) -> None:
    path = tmp_path / ".devkeys" / "epic.pem"
    assert ensure_development_key({"EPIC_PRIVATE_KEY": str(path)}) == path
    first = path.read_bytes()
    assert ensure_development_key({"EPIC_PRIVATE_KEY": str(path)}) is None
    assert path.read_bytes() == first
    assert load_signing_key(str(path), "EPIC_PRIVATE_KEY").private_key.key_size == 2048


def test_pem_text_and_no_setting_create_nothing() -> None:
    assert ensure_development_key({"EPIC_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\n..."}) is None
    assert ensure_development_key({}) is None
