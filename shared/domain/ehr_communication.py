"""What we write to Epic as a FHIR R4 `Communication`, without I/O: an undelivered SMS and a device-test result.

Visit connection statuses go to Epic's telehealth web service instead (`shared/domain/connection_status.py`);
these two facts have no place there (a device test belongs to no conference, an SMS to no connection),
so they are a FHIR-standard `Communication`: `status` completed, a `category` naming the kind of fact,
`sent` = when it happened, an `identifier` in our system carrying the fact's deterministic id (so a
conditional create writes each fact once), the visit as `encounter` by identifier (the CSN), and a short
text payload. Never a patient name, number or anything the patient typed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from shared.domain.device_test import DeviceTestResult
from shared.domain.ehr_events import EhrEvent, EhrEventKind

IDENTIFIER_SYSTEM = "urn:teams-ehr-connector:write-back"
CATEGORY_TEXT = "Virtual visit"

UNDELIVERED_TEXT = "A text message to the patient could not be delivered; please call the patient."


def undelivered_sms_communication(event: EhrEvent) -> dict[str, Any]:
    """Raises ValueError for an event that is no undelivered SMS."""
    if event.kind is not EhrEventKind.SMS_UNDELIVERED:
        raise ValueError(f"{event.kind} is no undelivered SMS")
    text = UNDELIVERED_TEXT + (f" ({event.detail})" if event.detail else "")
    return {
        **_base(event.event_id, str(event.kind), event.occurred_at, text),
        "encounter": {"identifier": {"value": unquote(event.appointment_key)}},
    }


def device_test_communication(result_id: str, result: DeviceTestResult, at: datetime) -> dict[str, Any]:
    checks = ", ".join(f"{name} {getattr(result, name)}" for name in ("camera", "microphone", "speaker"))
    verdict = "passed" if result.passed else "failed"
    text = f"Device test {verdict}: {checks}, connection {'ok' if result.connection_ok else 'poor'}."
    return _base(result_id, "device_test", at, text)


def conditional_query(resource: dict[str, Any]) -> str:
    """The `If-None-Exist` query that finds `resource` if an earlier attempt created it."""
    return f"identifier={IDENTIFIER_SYSTEM}|{resource['identifier'][0]['value']}"


def _base(fact_id: str, kind: str, at: datetime, text: str) -> dict[str, Any]:
    return {
        "resourceType": "Communication",
        "status": "completed",
        "identifier": [{"system": IDENTIFIER_SYSTEM, "value": fact_id}],
        "category": [{"coding": [{"system": IDENTIFIER_SYSTEM, "code": kind}], "text": CATEGORY_TEXT}],
        "sent": at.astimezone(UTC).isoformat(),
        "payload": [{"contentString": text}],
    }
