"""The shared HL7 corpus (real messages from public projects), read in place: never copied into the project."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
CORPUS = REPO_ROOT.parent / "shared" / "hl7-corpus"


def corpus_files() -> list[Path]:
    """Every corpus message, or a skip naming the folder when the corpus is not beside the repository."""
    if not CORPUS.is_dir():
        pytest.skip(f"HL7 corpus not found at {CORPUS} (it lives beside the repository, in shared/hl7-corpus)")
    return sorted(CORPUS.glob("*.hl7"))


def corpus_file(name: str) -> bytes:
    files = {path.name: path for path in corpus_files()}
    return files[name].read_bytes()
