"""ACS events through the app's Event Grid function: delivery reports update jobs, STOP / START keep the opt-out list.

SMS go out through the real ACS SDK to the HTTPS stand-in; Event Grid deliveries are built as the host
hands them to the function (`azure.functions.EventGridEvent`), with the data ACS documents.
"""

from __future__ import annotations

import base64
import json
import secrets
import sys
import uuid
from datetime import UTC, datetime, timedelta

import azure.functions as func
import pytest

from localworld.acs_sms import AcsSmsStandIn, accepted
from shared import bootstrap
from shared.adapters.acs_sms import AcsSmsSender
from shared.adapters.config_store import PhoneNumber
from shared.adapters.opt_outs import SMS_OPT_OUTS
from shared.adapters.sms_jobs import SMS_REPORT, JobLog, JobStatus, report_partition
from shared.domain.config import SmsSettings
from shared.domain.ehr_events import EhrEvent, EhrEventKind
from shared.domain.sms_job import SmsJob
from shared.domain.sms_text import SmsKind
from shared.errors import UpstreamError
from shared.queue_names import EHR_WRITEBACK_QUEUE, SMS_OUTBOUND_QUEUE
from shared.services.sms_jobs import OPTED_OUT_REASON, send_sms_job
from shared.settings import AcsConnection
from tests.appcalls import call
from tests.hl7_support import Sender, seed_sender

NOW = datetime.now(UTC).replace(microsecond=0)
"""ACS (the stand-in) judges repeatability against its own clock: the tests' time is the real one (each
test's own start: a long suite may reach these tests minutes after import)."""
GEO = "EU"


@pytest.fixture(autouse=True)
def _now_is_the_tests_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "NOW", datetime.now(UTC).replace(microsecond=0))


def random_number(prefix: str) -> str:
    return prefix + "".join(secrets.choice("0123456789") for _ in range(4))


@pytest.fixture
def clinic(app_env: dict[str, str]) -> Sender:
    """An approved endpoint in EU, with EHR write-back on, whose own sending number is in the config store's
    number index."""
    our_number = random_number("+1800555")
    sender = seed_sender(GEO, sms=SmsSettings(True, True, (1440, 60), our_number), ehr_write_back=True)
    bootstrap.get_config_store().add_phone_number(PhoneNumber(sender.organisation.id, our_number, "sandbox", NOW))
    return sender


def make_job(clinic: Sender, patient: str, kind: SmsKind = SmsKind.REMINDER) -> SmsJob:
    return SmsJob(
        job_id=uuid.uuid4().hex,
        endpoint_id=clinic.endpoint.id,
        appointment_key="CSN%2F4711",
        kind=kind,
        from_number=clinic.endpoint.sms.from_number or "",
        to_number=patient,
        text="Riverside Clinic: your video visit is tomorrow at 9:00.",
    )


def send(job: SmsJob, acs: AcsSmsStandIn, now: datetime | None = None) -> JobStatus | None:
    """Send `job` through the real path at `now` (default: this test's NOW)."""
    account = bootstrap.get_storage().for_geo(GEO)
    connection = AcsConnection(endpoint=f"{acs.url}/", connection_string=acs.connection_string())
    return send_sms_job(
        job,
        geo=GEO,
        log=JobLog(account),
        sender=AcsSmsSender(connection, connection_verify=acs.ca_file),
        queue=account.queue(SMS_OUTBOUND_QUEUE),
        opt_outs=bootstrap.get_opt_outs(GEO),
        now=now or NOW,
    )


def event(event_type: str, data: dict) -> func.EventGridEvent:
    return func.EventGridEvent(
        id=str(uuid.uuid4()),
        data=data,
        topic="/subscriptions/x/resourceGroups/y/providers/Microsoft.Communication/communicationServices/acs",
        subject=f"/phonenumber/{data.get('to', '')}",
        event_type=event_type,
        event_time=NOW,
        data_version="1.0",
    )


def delivery_report(tag: str, status: str, details: str, at: datetime) -> func.EventGridEvent:
    return event(
        "Microsoft.Communication.SMSDeliveryReportReceived",
        {
            "messageId": "acs-message-1",
            "from": "+18005550100",
            "to": "+16175550123",
            "deliveryStatus": status,
            "deliveryStatusDetails": details,
            "deliveryAttempts": [{"timestamp": at.isoformat(), "segmentsSucceeded": 1, "segmentsFailed": 0}],
            "receivedTimestamp": at.isoformat().replace("+00:00", "Z"),
            "tag": tag,
        },
    )


def inbound(clinic: Sender, patient: str, text: str, at: datetime) -> func.EventGridEvent:
    return event(
        "Microsoft.Communication.SMSReceived",
        {
            "messageId": "in-1",
            "from": patient,
            "to": clinic.endpoint.sms.from_number,
            "message": text,
            "receivedTimestamp": at.isoformat(),
        },
    )


def tag_sent(acs: AcsSmsStandIn) -> str:
    return acs.bodies()[-1]["smsSendOptions"]["tag"]


def job_row(job: SmsJob) -> dict:
    return JobLog(bootstrap.get_storage().for_geo(GEO)).get(job.endpoint_id, job.job_id).entity


def writeback_events(clinic: Sender) -> list[EhrEvent]:
    queue = bootstrap.get_storage().for_geo(GEO).queue(EHR_WRITEBACK_QUEUE).client
    events = []
    for message in queue.receive_messages(max_messages=32, visibility_timeout=1):
        payload = json.loads(message.content)
        if payload.get("endpointId") == clinic.endpoint.id:
            events.append(EhrEvent.from_message(payload))
            queue.delete_message(message)
    return events


def test_the_tag_routes_to_the_job_and_names_no_patient(clinic: Sender) -> None:
    patient = random_number("+1617555")
    job = make_job(clinic, patient)
    with AcsSmsStandIn([accepted()], clock=lambda: NOW) as acs:
        assert send(job, acs) is JobStatus.SENT
        tag = tag_sent(acs)
    assert tag == f"v1|{GEO}|{clinic.endpoint.id}|{job.job_id}"
    assert patient not in tag
    assert patient[1:] not in tag


def test_a_delivered_report_marks_the_job_and_its_report_row(clinic: Sender) -> None:
    job = make_job(clinic, random_number("+1617555"))
    with AcsSmsStandIn([accepted()], clock=lambda: NOW) as acs:
        send(job, acs)
        call("receive_sms_delivery_report", delivery_report(tag_sent(acs), "Delivered", "No error.", NOW))
    assert job_row(job)["Delivery"] == "delivered"
    report = bootstrap.get_storage().for_geo(GEO).table(SMS_REPORT)
    row = report.get(report_partition(job.endpoint_id, f"{NOW:%Y%m%d}"), job.job_id).entity
    assert (row["Status"], row["Delivery"], row["Kind"]) == ("sent", "delivered", "reminder")
    assert writeback_events(clinic) == []


def test_an_undelivered_reminder_is_queued_for_the_ehr_once_despite_duplicates(clinic: Sender) -> None:
    job = make_job(clinic, random_number("+1617555"))
    with AcsSmsStandIn([accepted()], clock=lambda: NOW) as acs:
        send(job, acs)
        report = delivery_report(tag_sent(acs), "Failed", "Recipient opted out of messages from this sender", NOW)
    call("receive_sms_delivery_report", report)
    call("receive_sms_delivery_report", report)
    assert job_row(job)["Delivery"] == "opted_out"
    [written] = writeback_events(clinic)
    assert (written.kind, written.appointment_key, written.detail) == (
        EhrEventKind.SMS_UNDELIVERED,
        "CSN%2F4711",
        "reminder: opted_out",
    )


def test_an_endpoint_without_write_back_gets_no_ehr_event(app_env: dict[str, str]) -> None:
    quiet = seed_sender(GEO, sms=SmsSettings(True, True, (1440, 60), random_number("+1800555")))
    job = make_job(quiet, random_number("+1617555"))
    with AcsSmsStandIn([accepted()], clock=lambda: NOW) as acs:
        send(job, acs)
        report = delivery_report(tag_sent(acs), "Failed", "Destination unreachable", NOW)
    call("receive_sms_delivery_report", report)
    assert job_row(job)["Delivery"] == "unreachable"
    assert writeback_events(quiet) == []


def test_an_older_report_arriving_late_does_not_overwrite_a_newer_one(clinic: Sender) -> None:
    job = make_job(clinic, random_number("+1617555"))
    with AcsSmsStandIn([accepted()], clock=lambda: NOW) as acs:
        send(job, acs)
        tag = tag_sent(acs)
    call("receive_sms_delivery_report", delivery_report(tag, "Delivered", "No error.", NOW + timedelta(minutes=2)))
    call("receive_sms_delivery_report", delivery_report(tag, "Failed", "Destination unreachable", NOW))
    assert job_row(job)["Delivery"] == "delivered"
    assert writeback_events(clinic) == []


def test_a_report_for_a_job_still_sending_is_refused_so_event_grid_retries(clinic: Sender) -> None:
    job = make_job(clinic, random_number("+1617555"))
    JobLog(bootstrap.get_storage().for_geo(GEO)).claim(job, NOW)
    tag = f"v1|{GEO}|{job.endpoint_id}|{job.job_id}"
    with pytest.raises(UpstreamError) as raised:
        call("receive_sms_delivery_report", delivery_report(tag, "Delivered", "No error.", NOW))
    assert raised.value.retryable
    assert "Delivery" not in job_row(job)


@pytest.mark.parametrize("tag", ["job-7f3a", "v1|XX|ep|job", "", None])
def test_a_report_with_a_foreign_tag_is_dropped_without_error(clinic: Sender, tag: str | None) -> None:
    call("receive_sms_delivery_report", delivery_report(tag, "Delivered", "No error.", NOW))  # type: ignore[arg-type]


def test_stop_prevents_further_sms_from_that_number_and_start_allows_them_again(clinic: Sender) -> None:
    patient = random_number("+1617555")
    call("receive_sms_delivery_report", inbound(clinic, patient, " Stop. ", NOW))
    with AcsSmsStandIn([accepted()], clock=lambda: NOW) as acs:
        assert send(make_job(clinic, patient), acs) is JobStatus.FAILED
        assert acs.requests == []
    blocked = make_job(clinic, patient)
    with AcsSmsStandIn([accepted()], clock=lambda: NOW) as acs:
        send(blocked, acs)
    assert job_row(blocked)["Reason"] == OPTED_OUT_REASON
    other_patient = random_number("+1617555")
    with AcsSmsStandIn([accepted()], clock=lambda: NOW) as acs:
        assert send(make_job(clinic, other_patient), acs) is JobStatus.SENT
    call("receive_sms_delivery_report", inbound(clinic, patient, "START", NOW + timedelta(minutes=1)))
    with AcsSmsStandIn([accepted()], clock=lambda: NOW) as acs:
        assert send(make_job(clinic, patient), acs) is JobStatus.SENT


def test_stop_and_start_out_of_order_end_in_the_newer_state(clinic: Sender) -> None:
    patient = random_number("+1617555")
    call("receive_sms_delivery_report", inbound(clinic, patient, "unsubscribe", NOW + timedelta(minutes=5)))
    call("receive_sms_delivery_report", inbound(clinic, patient, "start", NOW))
    assert bootstrap.get_opt_outs(GEO).is_opted_out(clinic.endpoint.sms.from_number or "", patient)


def test_a_conversation_or_a_stranger_number_changes_nothing(clinic: Sender) -> None:
    patient = random_number("+1617555")
    call("receive_sms_delivery_report", inbound(clinic, patient, "stop by at 3?", NOW))
    stranger = inbound(clinic, patient, "STOP", NOW)
    stranger.get_json()["to"] = random_number("+1800666")
    call("receive_sms_delivery_report", stranger)
    assert not bootstrap.get_opt_outs(GEO).is_opted_out(clinic.endpoint.sms.from_number or "", patient)


def test_the_opt_out_list_holds_no_number_in_clear(clinic: Sender) -> None:
    patient = random_number("+1617555")
    call("receive_sms_delivery_report", inbound(clinic, patient, "STOP", NOW))
    rows = bootstrap.get_storage().for_geo(GEO).table(SMS_OPT_OUTS).list_partition(clinic.endpoint.sms.from_number)
    stored = json.dumps([row.entity for row in rows], default=str)
    assert "OptedOut" in stored
    assert patient not in stored
    assert patient[2:] not in stored


def test_the_opt_out_key_is_keyed(clinic: Sender, monkeypatch: pytest.MonkeyPatch) -> None:
    patient = random_number("+1617555")
    call("receive_sms_delivery_report", inbound(clinic, patient, "STOP", NOW))
    monkeypatch.setenv("OPT_OUT_HASH_KEY", base64.b64encode(secrets.token_bytes(32)).decode())
    bootstrap.reset()
    assert not bootstrap.get_opt_outs(GEO).is_opted_out(clinic.endpoint.sms.from_number or "", patient)


def test_a_stop_written_without_plus_and_in_pascal_case_still_opts_the_patient_out(clinic: Sender) -> None:
    patient = random_number("+1617555")
    ours = clinic.endpoint.sms.from_number or ""
    data = {
        "MessageId": "in-2",
        "From": patient[1:],
        "To": ours[1:],
        "Message": "STOP",
        "ReceivedTimestamp": f"{NOW:%Y-%m-%dT%H:%M:%SZ}",
    }
    call("receive_sms_delivery_report", event("Microsoft.Communication.SMSReceived", data))
    assert bootstrap.get_opt_outs(GEO).is_opted_out(ours, patient)
    with AcsSmsStandIn([accepted()], clock=lambda: NOW) as acs:
        assert send(make_job(clinic, patient), acs) is JobStatus.FAILED
        assert acs.requests == []


def test_a_delivery_report_with_a_pascal_case_tag_settles_an_unconfirmed_job(clinic: Sender) -> None:
    job = make_job(clinic, random_number("+1617555"))
    log = JobLog(bootstrap.get_storage().for_geo(GEO))
    claim = log.claim(job, NOW)
    assert claim is not None
    log.mark_unconfirmed(claim.stored, NOW, "unconfirmed: interrupted")
    tag = f"v1|{GEO}|{job.endpoint_id}|{job.job_id}"
    report = delivery_report(tag, "Delivered", "No error.", NOW).get_json()
    report["Tag"] = report.pop("tag")
    call("receive_sms_delivery_report", event("Microsoft.Communication.SMSDeliveryReportReceived", report))
    row = job_row(job)
    assert (row["Status"], row["Delivery"], row["MessageId"]) == ("sent", "delivered", "acs-message-1")
