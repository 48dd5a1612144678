"""The launch's pure part: launch parameters, the visit in the token response and its FHIR resources, visit
times from a FHIR Appointment, the state context."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.launch import (
    DEFAULT_VISIT_LENGTH,
    LaunchedVisit,
    Role,
    TokenContext,
    ehr_user_key,
    encounter_appointment_id,
    parse_launch_request,
    patient_user,
    relative_reference,
    require_participant,
    token_context,
    visit_id_of,
    visit_times,
)
from shared.errors import InvalidRequestError, VisitNotConfirmedError

START = datetime(2030, 5, 4, 14, 0, tzinfo=UTC)
NOW = datetime(2030, 5, 4, 9, 0, tzinfo=UTC)


def test_launch_parameters_drop_unresolved_epic_tokens_and_refuse_junk() -> None:
    request = parse_launch_request({"iss": " https://x/api/FHIR/R4 ", "launch": "L1", "sessionId": "%CSN%"})
    assert (request.iss, request.launch, request.session_id, request.department_id) == (
        "https://x/api/FHIR/R4",
        "L1",
        None,
        None,
    )
    with pytest.raises(InvalidRequestError):
        parse_launch_request({"iss": "https://x/api/FHIR/R4"})
    with pytest.raises(InvalidRequestError, match="sessionId"):
        parse_launch_request({"iss": "i", "launch": "l", "sessionId": "x" * 200})


@pytest.mark.parametrize(
    ("resource", "end"),
    [
        ({"start": "2030-05-04T14:00:00Z", "end": "2030-05-04T14:20:00Z"}, START + timedelta(minutes=20)),
        ({"start": "2030-05-04T16:00:00+02:00", "minutesDuration": 45}, START + timedelta(minutes=45)),
        ({"start": "2030-05-04T14:00:00Z", "end": "2030-05-04T13:00:00Z"}, START + DEFAULT_VISIT_LENGTH),
        ({"start": "2030-05-04T14:00:00Z"}, START + DEFAULT_VISIT_LENGTH),
    ],
)
def test_appointment_times_are_utc_with_a_sane_end(resource: dict, end: datetime) -> None:
    assert visit_times({"resourceType": "Appointment", **resource}, NOW) == (START, end)


@pytest.mark.parametrize(
    "resource",
    [None, {"resourceType": "Appointment"}, {"resourceType": "Appointment", "start": "2030-05-04T14:00:00"}],
)
def test_only_an_unscheduled_visit_starts_now(resource: dict | None) -> None:
    assert visit_times(resource, NOW) == (NOW, NOW + DEFAULT_VISIT_LENGTH)


def test_a_resource_that_is_no_appointment_is_refused() -> None:
    with pytest.raises(InvalidRequestError):
        visit_times({"resourceType": "Patient", "start": "2030-05-04T14:00:00Z"}, NOW)


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        ({"appointment": "A1", "encounter": "E1", "patient": "P1"}, TokenContext("A1", "E1", "P1")),
        ({"fhirContext": [{"reference": "Appointment/A2"}]}, TokenContext("A2", None, None)),
        ({"fhirContext": [{"reference": "https://x/R4/Encounter/E3"}, "junk", {}]}, TokenContext(None, "E3", None)),
        (
            {"fhirContext": [{"reference": "Patient/P1"}, {"reference": "A9"}], "encounter": "E4"},
            TokenContext(None, "E4", None),
        ),
        ({"appointment": "Encounter/E5", "fhirContext": "Appointment/A5"}, TokenContext(None, None, None)),
        ({"appointment": "x" * 200, "encounter": 7, "patient": ""}, TokenContext(None, None, None)),
    ],
)
def test_the_token_response_names_the_visit(tokens: dict, expected: TokenContext) -> None:
    assert token_context(tokens) == expected


CSN = {"system": "urn:oid:1.2.840.114350.1.13.861.1.7.3.698084.8", "value": "4711"}
APPOINTMENT = {
    "resourceType": "Appointment",
    "id": "eA1",
    "identifier": [{"system": "urn:other", "value": "C-9"}, CSN],
    "participant": [{"actor": {"reference": "Patient/P1"}}, {"actor": {"reference": "Practitioner/D1"}}],
}


def test_the_visit_id_is_an_identifier_of_the_confirmed_visit() -> None:
    assert visit_id_of([APPOINTMENT], None) == "4711"  # the CSN, as SIU's SCH-2 carries it
    assert visit_id_of([APPOINTMENT], "C-9") == "C-9"  # a group visit's conference id
    assert visit_id_of([{"resourceType": "Appointment", "id": "eA2"}], None) == "eA2"
    for edited in ("4712", "eA1", "", "Patient/P1"):
        with pytest.raises(VisitNotConfirmedError):
            visit_id_of([APPOINTMENT], edited)


def test_an_encounter_may_name_its_appointment() -> None:
    assert encounter_appointment_id({"appointment": [{"reference": "x"}, {"reference": "Appointment/A7"}]}) == "A7"
    assert encounter_appointment_id({"appointment": [{"reference": "Patient/P1"}]}) is None
    assert encounter_appointment_id({}) is None


def test_a_patients_own_fhir_user_names_the_patient() -> None:
    assert patient_user("https://x/api/FHIR/R4/Patient/P1") == patient_user("Patient/P1") == "P1"
    assert patient_user("Practitioner/P1") is None
    assert patient_user("P1") is None
    assert patient_user(None) is None


def test_a_patient_launch_must_be_a_participant() -> None:
    require_participant(APPOINTMENT, "P1")
    require_participant({"resourceType": "Encounter", "subject": {"reference": "Patient/P1"}}, "P1")
    for patient in ("P2", "D1", None):
        with pytest.raises(VisitNotConfirmedError):
            require_participant(APPOINTMENT, patient)


def test_references_ids_and_user_keys() -> None:
    assert relative_reference("https://x/api/FHIR/R4/Practitioner/p1", "https://x/api/FHIR/R4") == "Practitioner/p1"
    assert relative_reference("Practitioner/p1", "https://x/api/FHIR/R4") == "Practitioner/p1"
    key = ehr_user_key("org_1", "Practitioner/p1")
    assert len(key) == 64
    assert "p1" not in key
    assert key != ehr_user_key("org_2", "Practitioner/p1")


def test_a_launched_visit_survives_its_state_row() -> None:
    visit = LaunchedVisit("ep_1", "EU", "123", START, START + timedelta(minutes=30), Role.PROVIDER, "10501")
    assert LaunchedVisit.from_context(visit.as_context()) == visit
