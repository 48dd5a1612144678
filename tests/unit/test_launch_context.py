"""The launch's pure part: launch parameters, visit times from a FHIR Appointment, the state context."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.launch import (
    DEFAULT_VISIT_LENGTH,
    LaunchedVisit,
    Role,
    appointment_times,
    ehr_user_key,
    parse_launch_request,
    resource_id,
)
from shared.errors import InvalidRequestError

START = datetime(2030, 5, 4, 14, 0, tzinfo=UTC)


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
    assert appointment_times({"resourceType": "Appointment", **resource}) == (START, end)


@pytest.mark.parametrize(
    "resource",
    [
        {"resourceType": "Patient", "start": "2030-05-04T14:00:00Z"},
        {"resourceType": "Appointment"},
        {"resourceType": "Appointment", "start": "2030-05-04T14:00:00"},
    ],
)
def test_an_appointment_without_a_usable_start_is_refused(resource: dict) -> None:
    with pytest.raises(InvalidRequestError):
        appointment_times(resource)


def test_references_ids_and_user_keys() -> None:
    assert resource_id("Appointment/abc") == resource_id("abc") == "abc"
    assert resource_id(None) is None
    assert resource_id("") is None
    key = ehr_user_key("org_1", "Practitioner/p1")
    assert len(key) == 64
    assert "p1" not in key
    assert key != ehr_user_key("org_2", "Practitioner/p1")


def test_a_launched_visit_survives_its_state_row() -> None:
    visit = LaunchedVisit("ep_1", "EU", "123", START, START + timedelta(minutes=30), Role.PROVIDER, "10501")
    assert LaunchedVisit.from_context(visit.as_context()) == visit
