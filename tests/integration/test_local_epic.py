"""The local Epic speaks as Epic does: FHIR reads and searches scoped to the token, OperationOutcome errors,
and a connection-status service that refuses calls without our client id, token or parameters."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests

from localworld.epic import CLIENT_ID, EpicStandIn
from localworld.epic_fhir import CSN_SYSTEM, Grant, Visit
from localworld.epic_telehealth import SERVICE_PATH

START = datetime(2030, 5, 4, 14, 0, tzinfo=UTC)


@pytest.fixture
def local_epic() -> Iterator[tuple[EpicStandIn, Visit]]:
    with EpicStandIn() as epic:
        visit = epic.add_visit(
            "4711", patient_id="eP1", provider_id="eD1", start=START, end=START + timedelta(minutes=20)
        )
        epic.fhir.grants["patient-token"] = Grant("patient/Appointment.read patient/Encounter.rs", "eP1")
        epic.fhir.grants["other-patient"] = Grant("patient/Appointment.read", "eP2")
        epic.fhir.grants["provider-token"] = Grant("user/Appointment.read", None)
        epic.backend_tokens.add("backend-token")
        yield epic, visit


def get(epic: EpicStandIn, path: str, token: str, **headers: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}", **headers}
    return requests.get(f"{epic.url}{path}", headers=headers, verify=epic.ca_file, timeout=10)


def fhir(epic: EpicStandIn, path: str, token: str) -> requests.Response:
    return get(epic, f"{epic.fhir_base_url.removeprefix(epic.url)}{path}", token)


def test_reads_and_searches_give_fhir_r4_shapes(local_epic: tuple[EpicStandIn, Visit]) -> None:
    epic, visit = local_epic
    appointment = fhir(epic, f"/Appointment/{visit.appointment_id}", "patient-token").json()
    assert appointment["identifier"][0] == {"use": "usual", "system": CSN_SYSTEM, "value": "4711"}
    assert appointment["start"] == "2030-05-04T14:00:00Z"
    assert appointment["minutesDuration"] == 20
    assert {"reference": "Patient/eP1"} in [p["actor"] for p in appointment["participant"]]
    bundle = fhir(epic, f"/Appointment?identifier={CSN_SYSTEM}|4711", "patient-token").json()
    assert (bundle["resourceType"], bundle["type"], bundle["total"]) == ("Bundle", "searchset", 1)
    assert bundle["entry"][0]["search"] == {"mode": "match"}
    assert fhir(epic, "/Appointment?identifier=other|4711", "patient-token").json()["total"] == 0
    encounter = fhir(epic, f"/Encounter/{visit.encounter_id}", "patient-token").json()
    assert "appointment" not in encounter  # as Epic: the CSN is the link


@pytest.mark.parametrize(
    ("path", "token", "status", "code"),
    [
        ("/Appointment/{appointment}", "unknown", 401, "login"),
        ("/Appointment/{appointment}", "other-patient", 403, "forbidden"),
        ("/Encounter/{encounter}", "provider-token", 403, "forbidden"),
        ("/Appointment/nope", "provider-token", 404, "not-found"),
        ("/Appointment?start=2030", "provider-token", 400, "invalid"),
        ("/Appointment", "provider-token", 400, "invalid"),
    ],
)
def test_errors_are_operation_outcomes(
    local_epic: tuple[EpicStandIn, Visit], path: str, token: str, status: int, code: str
) -> None:
    epic, visit = local_epic
    answer = fhir(epic, path.format(appointment=visit.appointment_id, encounter=visit.encounter_id), token)
    assert answer.status_code == status
    outcome = answer.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == code


def test_the_connection_status_service_checks_its_caller(local_epic: tuple[EpicStandIn, Visit]) -> None:
    epic, _ = local_epic
    path = f"/interconnect{SERVICE_PATH}"
    query = "?ConferenceID=4711&ExternalID=x&ExternalIDType=External&VendorName=Teams&ConnectionStatus=1"
    assert get(epic, path + query, "unknown", **{"Epic-Client-ID": CLIENT_ID}).status_code == 401
    assert get(epic, path + query, "backend-token").status_code == 403
    assert get(epic, path + query, "backend-token", **{"Epic-Client-ID": "someone"}).status_code == 403
    missing = get(epic, path + "?ConferenceID=4711", "backend-token", **{"Epic-Client-ID": CLIENT_ID})
    assert missing.status_code == 400
    assert "ExternalID" in missing.json()["Message"]
    bad = get(epic, path + query.replace("=1", "=9"), "backend-token", **{"Epic-Client-ID": CLIENT_ID})
    assert bad.status_code == 400
    assert epic.telehealth.calls == []
    assert get(epic, path + query, "backend-token", **{"Epic-Client-ID": CLIENT_ID}).status_code == 200
    assert epic.telehealth.current() == {("4711", "x"): "1"}
