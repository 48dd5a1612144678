""" "Your clinician is ready" against Azurite and the ACS stand-in: one SMS per visit through repeated launches, a
reschedule, redeliveries and a crash after ACS sent it; none after the visit's end; none to an opted-out number."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta

import pytest

from localworld.acs_sms import AcsSmsStandIn
from shared import bootstrap
from shared.adapters.opt_outs import OptOutList
from shared.adapters.sms_jobs import JobLog, JobStatus
from shared.adapters.storage import StorageAccount
from shared.adapters.visit_log import VisitLog
from shared.domain.config import SmsSettings
from shared.domain.sms_job import SmsJob
from shared.domain.sms_text import SmsKind
from shared.queue_names import SMS_OUTBOUND_QUEUE
from shared.services.clinician_ready import text_clinician_ready
from shared.services.notices import NoticePolicy
from shared.services.scheduling import process_hl7_message
from shared.services.sms_jobs import OPTED_OUT_REASON
from tests.hl7_support import FROM_NUMBER, Sender, seed_sender, siu
from tests.integration.test_sms_jobs import NOW, OPT_OUT_KEY, crash_mid_send, run

POLICY = NoticePolicy(public_base_url="https://connector.example", phone_region="US", purge_grace=timedelta(hours=1))
START = NOW + timedelta(minutes=10)
OPTED_OUT_XTN, OPTED_OUT_PHONE = "^PRN^CP^^1^617^5550178", "+16175550178"
"""A number no other test uses: the opt-out recorded here must not reach other tests' patients."""


@pytest.fixture
def visit(config_env: dict[str, str]) -> tuple[Sender, StorageAccount, str]:
    """An endpoint (US) that texts when the clinician is ready, and a visit booked through SIU in 10 minutes."""
    sender = seed_sender("US", sms=SmsSettings(True, False, (), FROM_NUMBER, clinician_ready_enabled=True))
    account = bootstrap.get_storage().for_geo("US")
    csn = str(secrets.randbelow(10**9))
    book(sender, account, csn, START, NOW - timedelta(minutes=5))
    return sender, account, csn


def book(
    sender: Sender, account: StorageAccount, csn: str, start: datetime, sent: datetime, event: str = "S12", **more: str
) -> None:
    body = siu(event, appointment_id=csn, start=start, message_time=sent, **more).decode()
    payload = {"v": 1, "endpoint": sender.endpoint.id, "body": body}
    process_hl7_message(
        payload,
        geo="US",
        account=account,
        directory=bootstrap.get_directory(),
        join_tokens=bootstrap.get_join_tokens(),
        policy=POLICY,
        now=sent,
    )


def launched(sender: Sender, csn: str, now: datetime = NOW, start: datetime = START) -> str:
    """What a provider's launch of the visit at `now` does about the ready SMS."""
    storage = bootstrap.get_storage()
    endpoint = bootstrap.get_config_store().get_endpoint(sender.endpoint.id)
    return text_clinician_ready(
        endpoint,
        bootstrap.get_config_store(),
        storage,
        VisitLog(storage),
        POLICY,
        visit_id=csn,
        scheduled_start=start,
        now=now,
    )


def ready_jobs(account: StorageAccount, sender: Sender) -> list[SmsJob]:
    client = account.queue(SMS_OUTBOUND_QUEUE).client
    jobs = [SmsJob.from_message(json.loads(m.content)) for m in client.receive_messages(messages_per_page=32)]
    return [job for job in jobs if job.endpoint_id == sender.endpoint.id and job.kind is SmsKind.READY]


def test_one_sms_through_repeated_launches_a_reschedule_redeliveries_and_a_crash(visit) -> None:
    sender, account, csn = visit
    assert [launched(sender, csn), launched(sender, csn)] == ["queued", "queued"]
    book(sender, account, csn, START + timedelta(minutes=5), NOW - timedelta(minutes=1), "S13")  # moved
    assert launched(sender, csn, start=START + timedelta(minutes=5)) == "queued"

    jobs = ready_jobs(account, sender)
    assert len(jobs) == 3
    assert len({job.job_id for job in jobs}) == 1  # one visit, one job, whatever the reschedules
    assert "clinician is ready" in jobs[0].text
    assert "https://connector.example/api/join#us-" in jobs[0].text
    sending = datetime.now(UTC)  # ACS's stand-in judges repeatability by the real clock
    with AcsSmsStandIn() as acs:
        crash_mid_send(account, acs, jobs[0], reached_acs=True, now=sending)  # ACS sent it; we died before noting it
        outcomes = [run(account, acs, job, now=sending + timedelta(minutes=1)) for job in jobs]
        assert len(acs.sent) == 1
    assert outcomes == [JobStatus.SENT, None, None]
    row = JobLog(account).get(sender.endpoint.id, jobs[0].job_id).entity
    assert (row["Kind"], row["Language"], row["Segments"]) == ("clinician_ready", "en", jobs[0].segments)


def test_none_after_the_visits_end(visit) -> None:
    sender, account, csn = visit
    assert launched(sender, csn, now=START + timedelta(minutes=31)) == "the visit is over"
    assert ready_jobs(account, sender) == []


def test_none_for_a_visit_no_scheduling_message_booked(visit) -> None:
    sender, _, _ = visit
    assert launched(sender, "999999999") == "no booked appointment from a scheduling message"


def test_none_to_an_opted_out_number(visit) -> None:
    sender, account, _ = visit
    csn = str(secrets.randbelow(10**9))  # a patient of their own: the opt-out stays in the shared account
    book(sender, account, csn, START, NOW - timedelta(minutes=5), phone=OPTED_OUT_XTN)
    OptOutList(account, OPT_OUT_KEY).set_opted_out(FROM_NUMBER, OPTED_OUT_PHONE, True, NOW - timedelta(days=1))
    assert launched(sender, csn) == "queued"
    [job] = ready_jobs(account, sender)
    with AcsSmsStandIn() as acs:
        assert run(account, acs, job, now=datetime.now(UTC)) is JobStatus.FAILED
        assert acs.sent == []
    assert JobLog(account).get(sender.endpoint.id, job.job_id).entity["Reason"] == OPTED_OUT_REASON


def test_a_cancelled_visit_gets_none(visit) -> None:
    sender, account, csn = visit
    book(sender, account, csn, START, NOW - timedelta(minutes=1), "S15")
    assert launched(sender, csn) == "no booked appointment from a scheduling message"
