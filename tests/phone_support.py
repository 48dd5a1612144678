"""An order's progress kept in memory, for tests that buy numbers through the ACS adapter directly."""

from __future__ import annotations


class MemoryProgress:
    """`OrderProgress` (shared/adapters/phone_numbers.py) without the operation row."""

    def __init__(self) -> None:
        self.saved: dict[str, str] = {}

    def get(self, step: str) -> str | None:
        return self.saved.get(step)

    def save(self, step: str, token: str) -> None:
        self.saved[step] = token
