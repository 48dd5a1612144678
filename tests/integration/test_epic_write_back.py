"""EpicEhrWriteBack against the Epic stand-in: backend OAuth (client credentials, private_key_jwt), a
conditional FHIR Communication create per fact, retries through the queue, device tests."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime

import azure.functions as func
import pytest

from localworld.epic import EpicStandIn
from localworld.server import Response
from shared import bootstrap
from shared.domain.device_test import DeviceTestResult
from shared.domain.ehr_communication import IDENTIFIER_SYSTEM
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


def test_a_visit_event_becomes_one_communication_however_often_delivered(clinic: Sender, epic: EpicStandIn) -> None:
    event = EhrEvent("US", clinic.endpoint.id, "CSN%2F4711", EhrEventKind.PATIENT_CONNECTED, AT)
    for _ in range(3):
        call("write_back_ehr_event_us", message(event))
    [written] = epic.communications
    assert written["status"] == "completed"
    assert written["identifier"] == [{"system": IDENTIFIER_SYSTEM, "value": event.event_id}]
    assert written["encounter"] == {"identifier": {"value": "CSN/4711"}}
    assert written["category"][0]["coding"][0]["code"] == "patient_connected"
    assert datetime.fromisoformat(written["sent"]) == AT
    assert written["payload"] == [{"contentString": "Patient connected to the virtual visit."}]
    assert epic.backend_scopes == ["system/Communication.write"]  # one token, reused
    assert epic.token_refusals == []


def test_an_undelivered_sms_tells_staff_to_call(clinic: Sender, epic: EpicStandIn) -> None:
    event = EhrEvent("US", clinic.endpoint.id, "A1", EhrEventKind.SMS_UNDELIVERED, AT, "reminder: opted_out")
    call("write_back_ehr_event_us", message(event))
    [written] = epic.communications
    assert "please call the patient" in written["payload"][0]["contentString"]
    assert "(reminder: opted_out)" in written["payload"][0]["contentString"]


def test_an_epic_failure_is_retried_by_the_queue(clinic: Sender, epic: EpicStandIn) -> None:
    event = EhrEvent("US", clinic.endpoint.id, "CSN1", EhrEventKind.ENDED, AT)
    epic.fhir_errors.append(Response.json({"resourceType": "OperationOutcome"}, status=503))
    with pytest.raises(UpstreamError) as raised:
        call("write_back_ehr_event_us", message(event))
    assert raised.value.retryable
    assert epic.communications == []
    call("write_back_ehr_event_us", message(event))  # the host's redelivery
    assert len(epic.communications) == 1


def test_a_refused_backend_client_is_not_retried(clinic: Sender, epic: EpicStandIn) -> None:
    epic.trusted_jwks = {"keys": []}  # Epic does not know our key
    event = EhrEvent("US", clinic.endpoint.id, "CSN2", EhrEventKind.ENDED, AT)
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
