"""Sending SMS jobs through the real ACS SDK and an HTTPS stand-in, with the job log on Azurite."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime

import pytest
from azure.storage.queue import QueueClient

from localworld.acs_sms import AcsSmsStandIn, accepted, recipient_failed
from localworld.server import Response
from shared.adapters.acs_sms import AcsSmsSender
from shared.adapters.opt_outs import OptOutList
from shared.adapters.sms_jobs import JobLog, JobStatus
from shared.adapters.storage import Storage
from shared.domain.sms_job import MAX_ATTEMPTS, SmsJob
from shared.domain.sms_text import SmsKind
from shared.errors import InvalidMessageError
from shared.services.sms_jobs import send_sms_job
from shared.settings import AcsConnection, load_settings

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
OPT_OUT_KEY = b"opt-out key for the SMS job tests!"
THROTTLED = Response.json({"error": {"code": "TooManyRequests"}}, 429, {"Retry-After": "37"})


@pytest.fixture
def account(storage_env: dict[str, str]):
    return Storage(load_settings(storage_env)).for_geo("US")


def job(**changes: object) -> SmsJob:
    values = {
        "job_id": uuid.uuid4().hex,
        "endpoint_id": f"ep-{uuid.uuid4().hex[:8]}",
        "appointment_key": "A1",
        "kind": SmsKind.SCHEDULED,
        "from_number": "+18005550100",
        "to_number": "+16175550123",
        "text": "Riverside Clinic: your video visit is booked for ...",
    }
    values.update(changes)
    return SmsJob(**values)


def sender_for(acs: AcsSmsStandIn) -> AcsSmsSender:
    connection = AcsConnection(endpoint=f"{acs.url}/", connection_string=acs.connection_string())
    return AcsSmsSender(connection, connection_verify=acs.ca_file)


def run(account, acs: AcsSmsStandIn, the_job: SmsJob) -> JobStatus | None:
    queue = account.queue(f"sms-{uuid.uuid4().hex[:8]}")
    return send_sms_job(
        the_job,
        geo="US",
        log=JobLog(account),
        sender=sender_for(acs),
        queue=queue,
        opt_outs=OptOutList(account, OPT_OUT_KEY),
        now=NOW,
    )


def test_a_job_is_sent_once_however_often_it_is_delivered(account) -> None:
    the_job = job()
    with AcsSmsStandIn([accepted("msg-1")]) as acs:
        assert run(account, acs, the_job) is JobStatus.SENT
        assert run(account, acs, the_job) is None
        assert len(acs.requests) == 1
    row = JobLog(account).get(the_job.endpoint_id, the_job.job_id).entity
    assert (row["Status"], row["MessageId"], row["To"]) == ("sent", "msg-1", "+*********23")


def test_a_job_interrupted_mid_send_is_not_sent_again(account) -> None:
    the_job = job()
    JobLog(account).claim(the_job, NOW)  # a previous delivery claimed it, then its instance died
    with AcsSmsStandIn([accepted()]) as acs:
        assert run(account, acs, the_job) is None
        assert acs.requests == []
    assert JobLog(account).get(the_job.endpoint_id, the_job.job_id).entity["Status"] == "unknown"


def test_throttling_requeues_the_job_after_its_retry_after_then_it_is_sent(account, storage_env) -> None:
    the_job = job()
    queue = account.queue(f"sms-{uuid.uuid4().hex[:8]}")
    log = JobLog(account)
    with AcsSmsStandIn([THROTTLED, accepted("msg-2")]) as acs:
        assert (
            send_sms_job(
                the_job,
                geo="US",
                log=log,
                sender=sender_for(acs),
                queue=queue,
                opt_outs=OptOutList(account, OPT_OUT_KEY),
                now=NOW,
            )
            is JobStatus.RETRY
        )
        raw = QueueClient.from_connection_string(storage_env["GEO_US_STORAGE"], queue.name)
        assert raw.peek_messages() == []  # invisible for the Retry-After seconds
        assert raw.get_queue_properties().approximate_message_count == 1
        again = dataclasses.replace(the_job, attempt=2)
        assert (
            send_sms_job(
                again,
                geo="US",
                log=log,
                sender=sender_for(acs),
                queue=queue,
                opt_outs=OptOutList(account, OPT_OUT_KEY),
                now=NOW,
            )
            is JobStatus.SENT
        )
    assert log.get(the_job.endpoint_id, the_job.job_id).entity["Attempts"] == 2


def test_a_refused_recipient_is_recorded_and_not_retried(account) -> None:
    the_job = job()
    with AcsSmsStandIn([recipient_failed(400, "Invalid phone number")]) as acs:
        assert run(account, acs, the_job) is JobStatus.FAILED
        assert run(account, acs, the_job) is None
    row = JobLog(account).get(the_job.endpoint_id, the_job.job_id).entity
    assert row["Status"] == "failed"
    assert "6175550123" not in row["Reason"]


def test_the_last_attempt_gives_up(account) -> None:
    the_job = job(attempt=MAX_ATTEMPTS)
    with AcsSmsStandIn([THROTTLED]) as acs:
        assert run(account, acs, the_job) is JobStatus.FAILED


@pytest.mark.parametrize(
    "payload",
    [None, [], {"v": 2}, {"v": 1}, {**job().to_message(), "kind": "poem"}, {**job().to_message(), "attempt": 99}],
)
def test_malformed_job_messages_are_refused(payload: object) -> None:
    with pytest.raises(InvalidMessageError):
        SmsJob.from_message(payload)


def test_job_messages_round_trip() -> None:
    the_job = job()
    assert SmsJob.from_message(the_job.to_message()) == the_job
