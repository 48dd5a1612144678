"""Events the EHR hears about a visit, as they travel on a geography's `ehr-writeback` queue.

An SMS that could not be delivered (so staff can call the patient) and, as the visit runs, provider or
patient connected, disconnected (by side where the call event says whose) and ended. The event id is
deterministic per fact, so a redelivered report or notification writes back once per write-back
implementation that keeps ids. The visit is named by its appointment key (the EHR's visit id,
table-safe): an encounter identifier, so the queue is the organisation's geography's, never the control
account's. No names, numbers or texts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from shared.errors import InvalidMessageError


class EhrEventKind(StrEnum):
    SMS_UNDELIVERED = "sms_undelivered"
    PROVIDER_CONNECTED = "provider_connected"
    PATIENT_CONNECTED = "patient_connected"
    PATIENT_WAITING = "patient_waiting"
    """The patient opened the visit (launch or SMS link) and waits in the lobby."""
    DISCONNECTED = "disconnected"
    """Someone left, the event does not say who."""
    PATIENT_DISCONNECTED = "patient_disconnected"
    PROVIDER_DISCONNECTED = "provider_disconnected"
    ENDED = "ended"


@dataclass(frozen=True)
class EhrEvent:
    geo: str
    endpoint_id: str
    appointment_key: str
    kind: EhrEventKind
    occurred_at: datetime
    detail: str = ""
    """For SMS: the SMS kind and the not-delivered reason (e.g. `reminder: opted_out`); never patient data."""

    @property
    def event_id(self) -> str:
        material = f"{self.endpoint_id}|{self.appointment_key}|{self.kind}|{self.occurred_at.isoformat()}|{self.detail}"
        return hashlib.sha256(material.encode()).hexdigest()[:32]

    def to_message(self) -> dict[str, Any]:
        return {
            "v": 1,
            "geo": self.geo,
            "endpointId": self.endpoint_id,
            "appointmentKey": self.appointment_key,
            "kind": str(self.kind),
            "occurredAt": self.occurred_at.astimezone(UTC).isoformat(),
            "detail": self.detail,
        }

    @classmethod
    def from_message(cls, payload: Any) -> EhrEvent:
        """Raises InvalidMessageError for anything that is not a version-1 EHR event."""
        if not isinstance(payload, dict) or payload.get("v") != 1:
            raise InvalidMessageError("Not an EHR event message (v1).")
        names = ("geo", "endpointId", "appointmentKey", "kind", "occurredAt")
        if any(not isinstance(payload.get(name), str) or not payload[name] for name in names):
            raise InvalidMessageError("An EHR event message lacks a field.")
        try:
            kind = EhrEventKind(payload["kind"])
            occurred_at = datetime.fromisoformat(payload["occurredAt"])
        except ValueError as exc:
            raise InvalidMessageError("An EHR event message has an unknown kind or a bad time.") from exc
        if occurred_at.tzinfo is None:
            raise InvalidMessageError("An EHR event message's time has no offset.")
        return cls(
            geo=payload["geo"],
            endpoint_id=payload["endpointId"],
            appointment_key=payload["appointmentKey"],
            kind=kind,
            occurred_at=occurred_at.astimezone(UTC),
            detail=str(payload.get("detail") or ""),
        )
