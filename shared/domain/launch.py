"""SMART EHR launch, the pure part: scopes per role, the visit a launch opens, and what we keep of it.

A launch (Epic -> `/api/launch/provider` or `/api/launch/patient`) opens the visit that authenticated
context names: the token response (`TokenContext`: Epic's `appointment`, SMART 2 `fhirContext`
references, `encounter`, `patient`) and the Appointment / Encounter read with the launch's token. The
visit id (the meeting key) is an identifier of those resources: the `sessionId` of the launch URL when
it matches one of them (the CSN, or a group visit's conference id), else the CSN, else the FHIR
appointment id. A `sessionId` that matches nothing is refused, never trusted. What survives between the
redirects is a `LaunchedVisit` in a one-time state row: ids and times only, never an Epic token, a FHIR
resource or a name.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.errors import InvalidRequestError, VisitNotConfirmedError

LAUNCH_PURPOSE = "launch"
"""One-time states between our launch redirect and Epic's callback."""
SIGN_IN_PURPOSE = "launch-sign-in"
"""One-time states between Epic's callback and the provider's Microsoft 365 sign-in."""
STATE_TTL = timedelta(minutes=5)
"""Both round trips are a few seconds when all goes well; a sign-in with MFA may take a minute or two."""
DEFAULT_VISIT_LENGTH = timedelta(minutes=30)
"""Used when Epic gives no end (an Appointment without `end` or `minutesDuration`, or no Appointment)."""
MAX_CONTEXT_LENGTH = 128
CSN_SYSTEM_SUFFIX = ".7.3.698084.8"
"""How Epic's CSN identifier systems end (`urn:oid:1.2.840.114350.1.13.<customer>.<env>.7.3.698084.8`, as its
public sandbox shows): the organisation-specific prefix differs, this tail names the CSN."""


class Role(StrEnum):
    PROVIDER = "provider"
    PATIENT = "patient"


SCOPES = {
    # `launch` takes Epic's context; `openid fhirUser` names the EHR user; the read scopes let us read the
    # visit's Appointment (identifiers, participants, times) and, when Epic names only an Encounter, that.
    Role.PROVIDER: "launch openid fhirUser user/Appointment.read user/Encounter.read",
    Role.PATIENT: "launch openid fhirUser patient/Appointment.read patient/Encounter.read",
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


@dataclass(frozen=True)
class TokenContext:
    """The visit and patient Epic's token response names (ids, checked); any may be absent."""

    appointment_id: str | None
    encounter_id: str | None
    patient_id: str | None


def token_context(tokens: dict[str, Any]) -> TokenContext:
    """Read Epic's top-level `appointment`, then SMART 2 `fhirContext` references (Appointment, Encounter),
    then `encounter`, and `patient`. Unusable values count as absent."""
    appointment, encounter = _reference_id(tokens.get("appointment"), "Appointment"), None
    context = tokens.get("fhirContext")
    for item in context if isinstance(context, list) else ():
        reference = item.get("reference") if isinstance(item, dict) else None
        appointment = appointment or _reference_id(reference, "Appointment", typed=True)
        encounter = encounter or _reference_id(reference, "Encounter", typed=True)
    encounter = encounter or _reference_id(tokens.get("encounter"), "Encounter")
    return TokenContext(appointment, encounter, _reference_id(tokens.get("patient"), "Patient"))


def _reference_id(value: object, resource_type: str, *, typed: bool = False) -> str | None:
    """The id in `Type/id`, `<base>/Type/id` or (unless `typed`) a bare `id`; None when it names another
    type or is unusable."""
    if not isinstance(value, str) or not value.strip():
        return None
    parts = value.strip().rstrip("/").split("/")
    if (len(parts) > 1 and parts[-2] != resource_type) or (len(parts) == 1 and typed):
        return None
    found = parts[-1]
    return found if 0 < len(found) <= MAX_CONTEXT_LENGTH and found.isprintable() else None


def encounter_appointment_id(encounter: dict[str, Any]) -> str | None:
    """The Appointment an R4 Encounter names (`Encounter.appointment`, the first usable), else None."""
    for item in encounter.get("appointment") or ():
        found = _reference_id(item.get("reference") if isinstance(item, dict) else None, "Appointment", typed=True)
        if found:
            return found
    return None


def patient_user(fhir_user: str | None) -> str | None:
    """The Patient id of a patient's own `fhirUser` (`Patient/<id>`, relative or absolute), else None: the
    launching patient when Epic's token response leaves `patient` out."""
    return _reference_id(fhir_user, "Patient", typed=True)


def relative_reference(fhir_user: str, fhir_base_url: str) -> str:
    """`fhirUser` as `Type/id`: SMART allows an absolute URL (Epic sends one) or a relative reference."""
    prefix = fhir_base_url.rstrip("/") + "/"
    return fhir_user[len(prefix) :] if fhir_user.startswith(prefix) else fhir_user


def identifier_values(resource: dict[str, Any]) -> list[tuple[str, str]]:
    """(system, value) of each usable identifier of a FHIR resource."""
    found = []
    for identifier in resource.get("identifier") or ():
        if isinstance(identifier, dict) and isinstance(identifier.get("value"), str) and identifier["value"].strip():
            found.append((str(identifier.get("system") or ""), identifier["value"].strip()))
    return found


def csn_identifier(resource: dict[str, Any]) -> str | None:
    """The CSN among a resource's identifiers (see CSN_SYSTEM_SUFFIX), else None."""
    return next((value for system, value in identifier_values(resource) if system.endswith(CSN_SYSTEM_SUFFIX)), None)


def visit_id_of(resources: list[dict[str, Any]], hint: str | None) -> str:
    """The meeting key of the visit `resources` (its Appointment and/or Encounter, first the one the
    context named) describe. `hint` (the launch URL's sessionId) is used only if it is one of their
    identifiers. Raises VisitNotConfirmedError when it is not."""
    values = {value for resource in resources for _, value in identifier_values(resource)}
    if hint is not None:
        if hint not in values:
            raise VisitNotConfirmedError("The launch's sessionId is no identifier of the visit Epic confirmed.")
        return hint
    csn = next((found for resource in resources if (found := csn_identifier(resource))), None)
    return csn or str(resources[0]["id"])


def require_participant(resource: dict[str, Any], patient_id: str | None) -> None:
    """A patient launch must be the patient's own visit. Raises VisitNotConfirmedError."""
    if patient_id is None:
        raise VisitNotConfirmedError("Epic named no patient for this patient launch.")
    wanted = f"Patient/{patient_id}"
    if resource.get("resourceType") == "Encounter":
        references = [(resource.get("subject") or {}).get("reference")]
    else:
        references = [(p.get("actor") or {}).get("reference") for p in resource.get("participant") or ()]
    if not any(isinstance(r, str) and (r == wanted or r.endswith(f"/{wanted}")) for r in references):
        raise VisitNotConfirmedError("The launching patient is no participant of the visit.")


def visit_times(resource: dict[str, Any] | None, now: datetime) -> tuple[datetime, datetime]:
    """Start and end (UTC) of the visit's FHIR R4 Appointment; an unscheduled visit (no Appointment, or one
    without a start) starts `now`. Raises InvalidRequestError when `resource` is no Appointment."""
    if resource is None:
        return now, now + DEFAULT_VISIT_LENGTH
    if resource.get("resourceType") != "Appointment":
        raise InvalidRequestError("Epic did not return an Appointment for this visit.")
    start = _instant(resource.get("start"))
    if start is None:
        return now, now + DEFAULT_VISIT_LENGTH
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
