"""EpicEhrWriteBack against the local Epic: backend OAuth (client credentials, private_key_jwt), visit connection
statuses through Epic's SetExternalConnectionStatus in Epic's parameters, forward only, retries through the
queue; undelivered SMS and device tests as conditional FHIR Communication creates."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta

import azure.functions as func
import pytest
import requests

from localworld.epic import CLIENT_ID as EPIC_CLIENT_ID
from localworld.epic import EpicStandIn
from localworld.server import Response
from shared import bootstrap
from shared.domain.connection_status import VENDOR_NAME, Side, external_id
from shared.domain.device_test import DeviceTestResult
from shared.domain.ehr_events import EhrEvent, EhrEventKind
from shared.errors import UpstreamError
from tests.appcalls import call
from tests.hl7_support import Sender, seed_sender

AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def clinic(epic: EpicStandIn, monkeypatch: pytest.MonkeyPatch) -> Sender:
    """An endpoint at the Epic stand-in's FHIR base, with write-back on, and the Epic provider chosen."""
    monkeypatch.setenv("EHR_WRITE_BACK_PROVIDER", "epic")
    bootstrap.reset()
    epic.trusted_jwks = {"keys": [key.public_jwk() for key in bootstrap.get_signing_keys()]}
    return seed_sender("US", ehr_write_back=True, fhir_base_url=epic.fhir_base_url)


def message(event: EhrEvent) -> func.QueueMessage:
    return func.QueueMessage(id=secrets.token_hex(4), body=json.dumps(event.to_message()).encode())


def test_a_visit_event_sets_one_connection_status_however_often_delivered(clinic: Sender, epic: EpicStandIn) -> None:
    event = EhrEvent("US", clinic.endpoint.id, "CSN%2F4711", EhrEventKind.PATIENT_CONNECTED, AT)
    for _ in range(3):
        call("write_back_ehr_event_us", message(event))
    [status] = epic.telehealth.calls
    assert status.conference_id == "CSN/4711"  # the visit id Epic launched us with
    assert (status.external_id_type, status.vendor_name, status.connection_status) == ("External", VENDOR_NAME, "1")
    assert status.external_id == external_id(clinic.endpoint.id, "CSN/4711", Side.PATIENT)
    [request] = [r for r in epic.requests if r.path.endswith("/SetExternalConnectionStatus")]
    assert request.method == "GET"
    assert request.path == "/interconnect/api/epic/2018/Telehealth/ContextLinking/SetExternalConnectionStatus"
    assert request.headers["epic-client-id"] == EPIC_CLIENT_ID
    assert epic.backend_scopes == ["system/Communication.write"]  # one token, reused
    assert epic.token_refusals == []
    assert epic.communications == []


def test_statuses_move_forward_only_and_the_end_hangs_up_both_sides(clinic: Sender, epic: EpicStandIn) -> None:
    key = "CSN4712"
    provider = EhrEvent("US", clinic.endpoint.id, key, EhrEventKind.PROVIDER_CONNECTED, AT)
    patient = EhrEvent("US", clinic.endpoint.id, key, EhrEventKind.PATIENT_CONNECTED, AT + timedelta(minutes=1))
    left = EhrEvent("US", clinic.endpoint.id, key, EhrEventKind.PATIENT_DISCONNECTED, AT + timedelta(minutes=9))
    ended = EhrEvent("US", clinic.endpoint.id, key, EhrEventKind.ENDED, AT + timedelta(minutes=10))
    for event in (provider, patient, left, patient, ended, left):  # late duplicates change nothing
        call("write_back_ehr_event_us", message(event))
    patient_id = external_id(clinic.endpoint.id, key, Side.PATIENT)
    provider_id = external_id(clinic.endpoint.id, key, Side.PROVIDER)
    assert [(c.external_id, c.connection_status) for c in epic.telehealth.calls] == [
        (provider_id, "1"),
        (patient_id, "1"),
        (patient_id, "2"),
        (provider_id, "2"),  # ended: the patient side is hung up already
    ]
    assert epic.telehealth.current() == {(key, patient_id): "2", (key, provider_id): "2"}
    page = requests.get(f"{epic.url}/telehealth/statuses", verify=epic.ca_file, timeout=10)
    assert page.status_code == 200
    assert f"<td>{key}</td>" in page.text
    assert "disconnected" in page.text


def test_a_departure_that_does_not_say_whose_is_not_sent(clinic: Sender, epic: EpicStandIn) -> None:
    call("write_back_ehr_event_us", message(EhrEvent("US", clinic.endpoint.id, "C1", EhrEventKind.DISCONNECTED, AT)))
    assert epic.telehealth.calls == []


def test_a_failing_status_service_is_retried_by_the_queue(clinic: Sender, epic: EpicStandIn) -> None:
    event = EhrEvent("US", clinic.endpoint.id, "CSN4713", EhrEventKind.PROVIDER_CONNECTED, AT)
    epic.telehealth.errors.append(Response(503, "busy"))
    with pytest.raises(UpstreamError) as raised:
        call("write_back_ehr_event_us", message(event))
    assert raised.value.retryable
    assert epic.telehealth.calls == []
    call("write_back_ehr_event_us", message(event))  # the host's redelivery
    assert len(epic.telehealth.calls) == 1


def test_epic_refusing_the_call_is_not_retried(clinic: Sender, epic: EpicStandIn) -> None:
    event = EhrEvent("US", clinic.endpoint.id, "CSN4714", EhrEventKind.PROVIDER_CONNECTED, AT)
    epic.telehealth.errors.append(Response(400, '{"Message": "Invalid ConferenceID"}'))
    with pytest.raises(UpstreamError) as raised:
        call("write_back_ehr_event_us", message(event))
    assert not raised.value.retryable


def test_an_undelivered_sms_tells_staff_to_call(clinic: Sender, epic: EpicStandIn) -> None:
    event = EhrEvent("US", clinic.endpoint.id, "A1", EhrEventKind.SMS_UNDELIVERED, AT, "reminder: opted_out")
    call("write_back_ehr_event_us", message(event))
    [written] = epic.communications
    assert "please call the patient" in written["payload"][0]["contentString"]
    assert "(reminder: opted_out)" in written["payload"][0]["contentString"]


def test_an_epic_failure_is_retried_by_the_queue(clinic: Sender, epic: EpicStandIn) -> None:
    event = EhrEvent("US", clinic.endpoint.id, "CSN1", EhrEventKind.SMS_UNDELIVERED, AT, "reminder: failed")
    epic.fhir_errors.append(Response.json({"resourceType": "OperationOutcome"}, status=503))
    with pytest.raises(UpstreamError) as raised:
        call("write_back_ehr_event_us", message(event))
    assert raised.value.retryable
    assert epic.communications == []
    call("write_back_ehr_event_us", message(event))  # the host's redelivery
    call("write_back_ehr_event_us", message(event))  # and a duplicate: the conditional create finds it
    assert len(epic.communications) == 1


def test_a_refused_backend_client_is_not_retried(clinic: Sender, epic: EpicStandIn) -> None:
    epic.trusted_jwks = {"keys": []}  # Epic does not know our key
    event = EhrEvent("US", clinic.endpoint.id, "CSN2", EhrEventKind.ENDED, AT)
    assert epic.telehealth.calls == []
    with pytest.raises(UpstreamError) as raised:
        bootstrap.get_ehr_write_back().write_event(event)
    assert not raised.value.retryable
    assert epic.token_refusals == ["client assertion"]


def test_a_device_test_result_is_written_without_patient_data(clinic: Sender, epic: EpicStandIn) -> None:
    result = DeviceTestResult("ok", "ok", "not_heard", 20, 9000, 9000)
    bootstrap.get_ehr_write_back().write_device_test(clinic.endpoint.id, "20261201T093000Z-ab", result)
    [written] = epic.communications
    assert "encounter" not in written
    assert written["payload"][0]["contentString"] == (
        "Device test failed: camera ok, microphone ok, speaker not_heard, connection ok."
    )
