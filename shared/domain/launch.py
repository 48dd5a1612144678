"""SMART EHR launch, the pure part: scopes per role, the visit a launch opens, and what we keep of it.

A launch (Epic -> `/api/launch/provider` or `/api/launch/patient`) opens one visit: the visit id is
Epic's `sessionId` context parameter (the CSN, or a conference id for group visits) when given, else the
FHIR appointment id from the token response. What survives between the redirects is a `LaunchedVisit`
in a one-time state row: ids and times only, never an Epic token, a FHIR resource or a name.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.errors import InvalidRequestError

LAUNCH_PURPOSE = "launch"
"""One-time states between our launch redirect and Epic's callback."""
SIGN_IN_PURPOSE = "launch-sign-in"
"""One-time states between Epic's callback and the provider's Microsoft 365 sign-in."""
STATE_TTL = timedelta(minutes=5)
"""Both round trips are a few seconds when all goes well; a sign-in with MFA may take a minute or two."""
DEFAULT_VISIT_LENGTH = timedelta(minutes=30)
"""Used when Epic gives no end (an Appointment without `end` or `minutesDuration`, or no Appointment)."""
MAX_CONTEXT_LENGTH = 128


class Role(StrEnum):
    PROVIDER = "provider"
    PATIENT = "patient"


SCOPES = {
    # `launch` takes Epic's context; `openid fhirUser` names the EHR user; the read scope lets us read the
    # visit's Appointment for its id and times.
    Role.PROVIDER: "launch openid fhirUser user/Appointment.read",
    Role.PATIENT: "launch openid fhirUser patient/Appointment.read",
}


@dataclass(frozen=True)
class LaunchRequest:
    """What Epic's launch URL carries, checked: `iss` as sent, the launch id, and our context parameters."""

    iss: str
    launch: str
    session_id: str | None
    department_id: str | None


def parse_launch_request(params: dict[str, str]) -> LaunchRequest:
    """Raises InvalidRequestError when `iss` or `launch` is missing or a context parameter is unusable."""
    iss, launch = params.get("iss", "").strip(), params.get("launch", "").strip()
    if not iss or not launch:
        raise InvalidRequestError("This page must be opened from Epic (the launch has no iss or launch).")
    if len(launch) > 2048:
        raise InvalidRequestError("The launch parameter is too long.")
    return LaunchRequest(iss, launch, _context(params, "sessionId"), _context(params, "departmentId"))


def _context(params: dict[str, str], name: str) -> str | None:
    value = params.get(name, "").strip()
    # Epic leaves unresolved tokens like %CSN% in place when a record has no value for them.
    if not value or (value.startswith("%") and value.endswith("%")):
        return None
    if len(value) > MAX_CONTEXT_LENGTH or not value.isprintable():
        raise InvalidRequestError(f"The launch parameter {name} is not usable.")
    return value


@dataclass(frozen=True)
class LaunchedVisit:
    """The visit a launch opened and who opened it: what a state row carries across the sign-in."""

    endpoint_id: str
    geo: str
    visit_id: str
    start: datetime
    end: datetime
    role: Role
    department_id: str | None = None

    def as_context(self) -> dict[str, str]:
        context = {
            "endpoint_id": self.endpoint_id,
            "geo": self.geo,
            "visit_id": self.visit_id,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "role": str(self.role),
        }
        if self.department_id:
            context["department_id"] = self.department_id
        return context

    @classmethod
    def from_context(cls, context: dict[str, str]) -> LaunchedVisit:
        return cls(
            endpoint_id=context["endpoint_id"],
            geo=context["geo"],
            visit_id=context["visit_id"],
            start=datetime.fromisoformat(context["start"]).astimezone(UTC),
            end=datetime.fromisoformat(context["end"]).astimezone(UTC),
            role=Role(context["role"]),
            department_id=context.get("department_id") or None,
        )


def resource_id(reference: object) -> str | None:
    """The id of a FHIR reference or id (`Appointment/abc` or `abc`); None when absent or unusable."""
    if not isinstance(reference, str) or not reference.strip():
        return None
    found = reference.strip().rstrip("/").rsplit("/", 1)[-1]
    return found if 0 < len(found) <= MAX_CONTEXT_LENGTH and found.isprintable() else None


def appointment_times(resource: dict[str, Any]) -> tuple[datetime, datetime]:
    """Start and end (UTC) of a FHIR R4 Appointment. Raises InvalidRequestError when it has no usable start."""
    if resource.get("resourceType") != "Appointment":
        raise InvalidRequestError("Epic did not return an Appointment for this visit.")
    start = _instant(resource.get("start"))
    if start is None:
        raise InvalidRequestError("The visit's Appointment in Epic has no start time.")
    end = _instant(resource.get("end"))
    minutes = resource.get("minutesDuration")
    if end is None and isinstance(minutes, int) and not isinstance(minutes, bool) and minutes > 0:
        end = start + timedelta(minutes=minutes)
    if end is None or end <= start:
        end = start + DEFAULT_VISIT_LENGTH
    return start, end


def _instant(value: object) -> datetime | None:
    """A FHIR instant (always with an offset); a value without one is not an instant and is ignored."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else None


def ehr_user_key(org_id: str, fhir_user: str) -> str:
    """The user map's key for an EHR user of an organisation: hex SHA-256, so the EHR id is not stored."""
    return hashlib.sha256(f"teams-ehr-connector/ehr-user\n{org_id}\n{fhir_user}".encode()).hexdigest()
