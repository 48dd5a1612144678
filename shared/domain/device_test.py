"""Device-test results: what the patient's browser measured, validated, and the verdict on it.

The verdict is computed here, not in the page, so the EHR and the patient see the same answer. A
result carries no patient data: statuses and connection figures only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from shared.errors import InvalidRequestError

DEVICE_STATUSES = ("ok", "denied", "unavailable", "failed")
"""Camera / microphone: working; permission refused; no such device; it failed to start."""
SPEAKER_STATUSES = ("ok", "not_heard", "skipped")

MAX_ROUND_TRIP_MS = 400.0
MIN_KBPS = 1500.0
"""Teams' guidance for HD video calls: about 1.5 Mbps each way; more than ~400 ms round trip breaks conversation."""


@dataclass(frozen=True)
class DeviceTestResult:
    camera: str
    microphone: str
    speaker: str
    round_trip_ms: float
    download_kbps: float
    upload_kbps: float

    @property
    def connection_ok(self) -> bool:
        return (
            self.round_trip_ms <= MAX_ROUND_TRIP_MS and self.download_kbps >= MIN_KBPS and self.upload_kbps >= MIN_KBPS
        )

    @property
    def passed(self) -> bool:
        return self.camera == self.microphone == self.speaker == "ok" and self.connection_ok

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "connection_ok": self.connection_ok, "passed": self.passed}


def parse_device_test_result(document: Any) -> DeviceTestResult:
    """A result from the page's JSON. Raises InvalidRequestError naming the first bad field."""
    if not isinstance(document, dict):
        raise InvalidRequestError("The result must be a JSON object.")
    statuses = {}
    for name, allowed in (("camera", DEVICE_STATUSES), ("microphone", DEVICE_STATUSES), ("speaker", SPEAKER_STATUSES)):
        value = document.get(name)
        if value not in allowed:
            raise InvalidRequestError(f"Field {name} must be one of {', '.join(allowed)}.")
        statuses[name] = value
    figures = {}
    for name in ("round_trip_ms", "download_kbps", "upload_kbps"):
        value = document.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e7:
            raise InvalidRequestError(f"Field {name} must be a non-negative number.")
        figures[name] = round(float(value), 1)
    return DeviceTestResult(**statuses, **figures)
