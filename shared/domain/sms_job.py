"""One SMS job as it travels on the `sms-outbound` queue, and its retry schedule.

The job id is deterministic (`shared.domain.schedule.job_id`), so however often a job is queued
(a redelivered HL7 message, two timer ticks racing) the job log lets it be sent once. The number and
the text travel only inside the organisation's geography (its queue); the job log keeps them masked.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from shared.domain.sms_text import SmsKind
from shared.errors import InvalidMessageError

MAX_ATTEMPTS = 5
BACKOFF_SECONDS = (30, 60, 120, 300)
"""Waits before attempts 2 to 5 when the provider asks us to come back but does not say when."""
MAX_RETRY_AFTER_SECONDS = 3600
"""A longer Retry-After is not believed: the message would outlive the visit's usefulness."""


@dataclass(frozen=True)
class SmsJob:
    job_id: str
    endpoint_id: str
    appointment_key: str
    kind: SmsKind
    from_number: str
    to_number: str
    text: str
    attempt: int = 1

    def to_message(self) -> dict[str, Any]:
        return {"v": 1, **asdict(self), "kind": str(self.kind)}

    @classmethod
    def from_message(cls, payload: Any) -> SmsJob:
        """Raises InvalidMessageError for anything that is not a version-1 job."""
        if not isinstance(payload, dict) or payload.get("v") != 1:
            raise InvalidMessageError("Not an SMS job message (v1).")
        fields = {name: payload.get(name) for name in cls.__dataclass_fields__}
        strings = [name for name in fields if name != "attempt"]
        if any(not isinstance(fields[name], str) or not fields[name] for name in strings):
            raise InvalidMessageError("An SMS job message lacks a field.")
        if not isinstance(fields["attempt"], int) or not 1 <= fields["attempt"] <= MAX_ATTEMPTS:
            raise InvalidMessageError("An SMS job message has an invalid attempt number.")
        try:
            fields["kind"] = SmsKind(fields["kind"])
        except ValueError as exc:
            raise InvalidMessageError("An SMS job message has an unknown kind.") from exc
        return cls(**fields)


def retry_delay(attempt: int, retry_after: float | None) -> int | None:
    """Seconds before the next attempt after `attempt` failed for a passing reason; None: give up."""
    if attempt >= MAX_ATTEMPTS:
        return None
    if retry_after is not None:
        return int(min(max(retry_after, 1), MAX_RETRY_AFTER_SECONDS))
    return BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS)) - 1]
