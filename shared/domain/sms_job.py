"""One SMS job as it travels on the `sms-outbound` queue, its retry schedule, and how a retry stays exactly-once.

The job id is deterministic (`shared.domain.schedule.job_id`), so however often a job is queued
(a redelivered HL7 message, two timer ticks racing) the job log lets it be sent once. The number and
the text travel only inside the organisation's geography (its queue); the job log keeps them masked.

Exactly-once through crashes rests on ACS's repeatable requests
(https://learn.microsoft.com/rest/api/communication/repeatable-requests; the SMS API carries the pair per
recipient, `repeatabilityRequestId` / `repeatabilityFirstSent`, Azure/azure-rest-api-specs
specification/communication/data-plane/Sms/stable/2021-03-07/communicationservicessms.json): ACS tracks a
request id for 5 minutes from its first-sent time; a repeat inside that window is answered with the first
answer and not carried out again; a repeat first sent earlier gets 412. So each job has a request id and
first-sent time fixed before its first try (`next_try` tells, for a try after an interrupted or failed one,
whether to repeat them, start afresh, or reconcile with the delivery reports).
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.domain.sms_text import SmsKind
from shared.errors import InvalidMessageError

MAX_ATTEMPTS = 5
BACKOFF_SECONDS = (30, 60, 120, 300)
"""Waits before attempts 2 to 5 when the provider asks us to come back but does not say when."""
MAX_RETRY_AFTER_SECONDS = 3600
"""A longer Retry-After is not believed: the message would outlive the visit's usefulness."""

REPEATABILITY_WINDOW = timedelta(minutes=5)
"""How long ACS remembers a repeatable request (the REST API's repeatable-requests page)."""
REPEAT_SAFELY_WITHIN = REPEATABILITY_WINDOW - timedelta(minutes=1)
"""We repeat a request id only this long after its first try: a minute's margin for our clock against ACS's."""
RECONCILE_AFTER = timedelta(minutes=30)
"""How long a job that may have gone out waits for its delivery report before it is sent once more."""

_REQUEST_ID_NAMESPACE = uuid.UUID("6f1d2c8e-3b7a-4f55-9a0e-5d2b8c41e7a3")


def request_id(job_id: str, generation: int) -> str:
    """The repeatability request id of a job's `generation`-th request (deterministic: a lost write costs nothing)."""
    return str(uuid.uuid5(_REQUEST_ID_NAMESPACE, f"{job_id}/{generation}"))


class NextTry(StrEnum):
    REPEAT = "repeat"  # same request id and first-sent time: ACS deduplicates
    FRESH = "fresh"  # nothing can have gone out: a new request id, first sent now
    RECONCILE = "reconcile"  # it may have gone out and ACS no longer knows: wait for the delivery report


def next_try(first_sent: datetime, now: datetime, *, may_have_sent: bool) -> NextTry:
    """How to try a job again whose last try ended without a clear answer or was refused for a passing reason.

    `may_have_sent`: a try of this request id was interrupted (a crash, a timeout after sending).
    """
    if now - first_sent < REPEAT_SAFELY_WITHIN:
        return NextTry.REPEAT
    return NextTry.RECONCILE if may_have_sent else NextTry.FRESH


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
    language: str = "en"
    segments: int = 1
    """What the text costs (counted before it is queued): the SMS report shows it with the kind and language."""

    def to_message(self) -> dict[str, Any]:
        return {"v": 1, **asdict(self), "kind": str(self.kind)}

    @classmethod
    def from_message(cls, payload: Any) -> SmsJob:
        """Raises InvalidMessageError for anything that is not a version-1 job."""
        if not isinstance(payload, dict) or payload.get("v") != 1:
            raise InvalidMessageError("Not an SMS job message (v1).")
        defaults = {"language": "en", "segments": 1}  # jobs queued before texts had a language
        fields = {name: payload.get(name, defaults.get(name)) for name in cls.__dataclass_fields__}
        strings = [name for name in fields if name not in ("attempt", "segments")]
        if any(not isinstance(fields[name], str) or not fields[name] for name in strings):
            raise InvalidMessageError("An SMS job message lacks a field.")
        if not isinstance(fields["attempt"], int) or not 1 <= fields["attempt"] <= MAX_ATTEMPTS:
            raise InvalidMessageError("An SMS job message has an invalid attempt number.")
        if not isinstance(fields["segments"], int) or isinstance(fields["segments"], bool) or fields["segments"] < 1:
            raise InvalidMessageError("An SMS job message has an invalid segment count.")
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
