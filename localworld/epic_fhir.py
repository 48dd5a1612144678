"""The local Epic's FHIR R4 API: a small in-memory model of visits, read and searched as Epic's FHIR server does.

A visit is one Epic encounter (its CSN) booked as an appointment: a patient, a provider, a department,
a start and an end, and, for a group visit, the conference id its appointments share. Each visit
yields the FHIR resources Epic serves for it: `Appointment` and `Encounter` (both carry the CSN as an
`identifier`, as Epic's do, the appointment also the conference id of a group visit), `Patient`,
`Practitioner` and `Location` references as participants.

Shapes, from the published specifications:
* FHIR R4 resources: hl7.org/fhir/R4/appointment.html (identifier, status, start, end, minutesDuration,
  participant.actor), encounter.html (identifier, status, subject, participant.individual, period,
  location), patient.html, practitioner.html.
* FHIR R4 RESTful API: hl7.org/fhir/R4/http.html (read `GET [base]/[type]/[id]`, search
  `GET [base]/[type]?params` answering a `Bundle` of type `searchset`, bundle.html#searchset), and
  search.html#token for `identifier=[system]|[value]` or `identifier=[value]`. Search parameters served:
  Appointment `identifier`, `patient`, `actor`; Encounter `identifier`, `patient` (appointment.html#search,
  encounter.html#search).
* Errors as `OperationOutcome` (operationoutcome.html; http.html#2.21.0.4): 404 `not-found` for an unknown
  id, 401 `login` without a valid token, 403 `forbidden` for a resource outside the token's patient
  compartment or scopes, 400 `invalid` for an unsupported search (Epic answers a search without a
  supported parameter with 400 too).
* Scopes: SMART App Launch 2 (hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html): v1
  `user|patient/<Type>.read` and v2 `.r`/`.rs`; a `patient/` token sees only its patient's compartment.

The CSN identifier system is the one Epic's public sandbox uses for encounter CSNs
(`urn:oid:1.2.840.114350.1.13.0.1.7.3.698084.8`, fhir.epic.com); where Epic puts a group visit's
conference id in FHIR is not public, so the stand-in gives it its own system (`CONFERENCE_ID_SYSTEM`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from localworld.server import Request, Response

CSN_SYSTEM = "urn:oid:1.2.840.114350.1.13.0.1.7.3.698084.8"
CONFERENCE_ID_SYSTEM = "urn:localworld:epic:conference-id"
FHIR_JSON = "application/fhir+json"
READABLE_TYPES = ("Appointment", "Encounter", "Patient", "Practitioner")


@dataclass
class Visit:
    """One scheduled (or unscheduled: `start` None) visit of one patient with one provider."""

    csn: str
    patient_id: str
    provider_id: str
    start: datetime | None
    end: datetime | None
    department_id: str = "10501"
    conference_id: str | None = None
    appointment_id: str = field(default_factory=lambda: "e" + secrets.token_hex(10))
    encounter_id: str = field(default_factory=lambda: "e" + secrets.token_hex(10))
    status: str = "booked"
    encounter_names_appointment: bool = False
    """Epic's Encounter leaves R4's `Encounter.appointment` out; other FHIR servers fill it."""

    def appointment(self) -> dict[str, Any]:
        identifiers = [{"use": "usual", "system": CSN_SYSTEM, "value": self.csn}]
        if self.conference_id:
            identifiers.append({"use": "secondary", "system": CONFERENCE_ID_SYSTEM, "value": self.conference_id})
        resource: dict[str, Any] = {
            "resourceType": "Appointment",
            "id": self.appointment_id,
            "identifier": identifiers,
            "status": self.status,
            "participant": [
                {"actor": {"reference": f"Patient/{self.patient_id}"}, "required": "required", "status": "accepted"},
                {"actor": {"reference": f"Practitioner/{self.provider_id}"}, "status": "accepted"},
                {"actor": {"reference": f"Location/{self.department_id}"}, "status": "accepted"},
            ],
        }
        if self.start:
            resource["start"] = self.start.isoformat().replace("+00:00", "Z")
        if self.start and self.end:
            resource["end"] = self.end.isoformat().replace("+00:00", "Z")
            resource["minutesDuration"] = int((self.end - self.start) / timedelta(minutes=1))
        return resource

    def encounter(self) -> dict[str, Any]:
        # Epic's Encounter names no appointment (unless `encounter_names_appointment`): a client finds it
        # by the CSN both share.
        resource: dict[str, Any] = {
            "resourceType": "Encounter",
            "id": self.encounter_id,
            "identifier": [{"use": "usual", "system": CSN_SYSTEM, "value": self.csn}],
            "status": "planned" if self.status == "booked" else "in-progress",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "VR"},
            "subject": {"reference": f"Patient/{self.patient_id}"},
            "participant": [{"individual": {"reference": f"Practitioner/{self.provider_id}"}}],
            "location": [{"location": {"reference": f"Location/{self.department_id}"}}],
        }
        if self.start:
            resource["period"] = {"start": self.start.isoformat().replace("+00:00", "Z")}
        if self.encounter_names_appointment:
            resource["appointment"] = [{"reference": f"Appointment/{self.appointment_id}"}]
        return resource


@dataclass(frozen=True)
class Grant:
    """What one access token may read: its scopes and, for a patient token, the patient."""

    scope: str
    patient_id: str | None

    def may_read(self, resource_type: str) -> bool:
        for scope in self.scope.split():
            context, _, rest = scope.partition("/")
            kind, _, permission = rest.partition(".")
            if context not in ("user", "patient", "system") or kind not in (resource_type, "*"):
                continue
            if permission in ("read", "*") or (set(permission) <= set("cruds") and "r" in permission):
                return True
        return False


class EpicFhir:
    """The FHIR side of the local Epic: visits, and `serve` for `GET [base]/...` with a bearer token."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.visits: list[Visit] = []
        self.grants: dict[str, Grant] = {}
        """Access token -> what it may read (filled by the token endpoint)."""
        self.names: dict[str, str] = {}
        """Patient / Practitioner id -> display name (local runs show them; never sent to our logs)."""

    def add_visit(self, visit: Visit) -> Visit:
        self.visits.append(visit)
        return visit

    def serve(self, request: Request, path: str) -> Response:
        """`path` is the part after the FHIR base (`/Appointment/123`, `/Appointment`)."""
        grant = self.grants.get(request.headers.get("authorization", "").removeprefix("Bearer "))
        if grant is None:
            return outcome(401, "login", "The access token is missing, unknown or expired.")
        parts = path.strip("/").split("/")
        if request.method != "GET" or len(parts) > 2 or parts[0] not in READABLE_TYPES:
            return outcome(404, "not-supported", "This interaction is not supported.")
        if not grant.may_read(parts[0]):
            return outcome(403, "forbidden", f"The access token's scopes do not allow reading {parts[0]}.")
        if len(parts) == 2:
            return self._read(grant, parts[0], parts[1])
        return self._search(grant, parts[0], request.query)

    def _read(self, grant: Grant, resource_type: str, resource_id: str) -> Response:
        resource = next((r for r in self._resources(resource_type) if r["id"] == resource_id), None)
        if resource is None:
            return outcome(404, "not-found", f"{resource_type}/{resource_id} is not known.")
        if not _in_compartment(grant, resource):
            return outcome(403, "forbidden", "The resource is outside the access token's patient compartment.")
        return Response.json(resource, headers={"Content-Type": FHIR_JSON})

    def _search(self, grant: Grant, resource_type: str, query: dict[str, str]) -> Response:
        supported = {"Appointment": ("identifier", "patient", "actor"), "Encounter": ("identifier", "patient")}
        names = supported.get(resource_type, ())
        criteria = {name: value for name, value in query.items() if not name.startswith("_")}
        if not criteria or any(name not in names for name in criteria):
            return outcome(400, "invalid", f"Search {resource_type} by one of: {', '.join(names) or 'nothing'}.")
        found = [
            r
            for r in self._resources(resource_type)
            if _in_compartment(grant, r) and all(_matches(r, name, value) for name, value in criteria.items())
        ]
        bundle = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(found),
            "link": [{"relation": "self", "url": f"{self.base_url}/{resource_type}"}],
            "entry": [
                {"fullUrl": f"{self.base_url}/{resource_type}/{r['id']}", "resource": r, "search": {"mode": "match"}}
                for r in found
            ],
        }
        return Response.json(bundle, headers={"Content-Type": FHIR_JSON})

    def _resources(self, resource_type: str) -> list[dict[str, Any]]:
        if resource_type == "Appointment":
            return [visit.appointment() for visit in self.visits]
        if resource_type == "Encounter":
            return [visit.encounter() for visit in self.visits]
        ids = {visit.patient_id if resource_type == "Patient" else visit.provider_id for visit in self.visits}
        return [_person(resource_type, person, self.names.get(person, "")) for person in sorted(ids)]


def outcome(status: int, code: str, text: str) -> Response:
    document = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error" if status < 500 else "fatal", "code": code, "diagnostics": text}],
    }
    return Response.json(document, status=status, headers={"Content-Type": FHIR_JSON})


def _person(resource_type: str, person_id: str, name: str) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": resource_type, "id": person_id, "active": True}
    if name:
        resource["name"] = [{"use": "usual", "text": name}]
    return resource


def _references(resource: dict[str, Any]) -> list[str]:
    if resource["resourceType"] == "Appointment":
        return [p["actor"]["reference"] for p in resource["participant"]]
    if resource["resourceType"] == "Encounter":
        return [resource["subject"]["reference"]] + [p["individual"]["reference"] for p in resource["participant"]]
    return [f"{resource['resourceType']}/{resource['id']}"]


def _in_compartment(grant: Grant, resource: dict[str, Any]) -> bool:
    """A patient token reads its own patient's resources (and the practitioners they see)."""
    if grant.patient_id is None or resource["resourceType"] == "Practitioner":
        return True
    return f"Patient/{grant.patient_id}" in _references(resource)


def _matches(resource: dict[str, Any], name: str, value: str) -> bool:
    if name == "identifier":
        system, bar, code = value.rpartition("|")
        return any(
            i["value"] == code and (not bar or i.get("system") == system) for i in resource.get("identifier", [])
        )
    wanted = value if "/" in value else f"Patient/{value}"
    return wanted in _references(resource)
