"""The shared HL7 corpus (real messages from public projects), read in place: never copied into the project.

It is an extra beside the repository (`../shared/hl7-corpus`, or the folder `HL7_CORPUS` names); a fresh
clone does not have it, so its tests skip with the reason when they run, never while they are collected.
The project's own samples (`tests/samples.py`) cover the same ground and are always there.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("HL7_CORPUS") or REPO_ROOT.parent / "shared" / "hl7-corpus")


def corpus_files() -> list[Path]:
    """Every corpus message. Call it inside a test: it skips the test, naming the folder, when the corpus is
    absent."""
    if not CORPUS.is_dir():
        pytest.skip(f"HL7 corpus not found at {CORPUS} (an extra beside the repository; set HL7_CORPUS to use another)")
    return sorted(CORPUS.glob("*.hl7"))


def corpus_file(name: str) -> bytes:
    files = {path.name: path for path in corpus_files()}
    return files[name].read_bytes()
