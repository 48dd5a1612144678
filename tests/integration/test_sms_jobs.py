"""Sending SMS jobs through the real ACS SDK and an HTTPS stand-in, with the job log on Azurite.

Exactly-once through crashes: a crash is what `kill -9` leaves in storage (a claimed row, and ACS having
sent or not); the stand-in deduplicates repeatable requests inside its 5-minute window and answers 412
outside it, as ACS documents, and its clock is moved to step past the window.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
from azure.storage.queue import QueueClient

from localworld.acs_sms import AcsSmsStandIn, SentSms, accepted, recipient_failed
from localworld.server import Response
from shared.adapters.acs_sms import AcsSmsSender
from shared.adapters.opt_outs import OptOutList
from shared.adapters.sms_jobs import NO_REPORT_AFTER_RESEND, SMS_REPORT, JobLog, JobStatus, report_partition
from shared.adapters.storage import Queue, Storage
from shared.domain.sms import OutboundSms
from shared.domain.sms_delivery import delivery_tag, parse_delivery_report
from shared.domain.sms_job import MAX_ATTEMPTS, RECONCILE_AFTER, SmsJob, request_id
from shared.domain.sms_text import SmsKind
from shared.errors import InvalidMessageError
from shared.services.sms_jobs import send_sms_job
from shared.settings import AcsConnection, load_settings

NOW = datetime.now(UTC).replace(microsecond=0)
"""ACS (the stand-in) judges repeatability against its own clock: the tests' time is the real one (each
test's own start, `_now_is_the_tests_start`: a long suite may reach these tests minutes after import)."""
OPT_OUT_KEY = b"opt-out key for the SMS job tests!"
THROTTLED = Response.json({"error": {"code": "TooManyRequests"}}, 429, {"Retry-After": "37"})


@pytest.fixture(autouse=True)
def _now_is_the_tests_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "NOW", datetime.now(UTC).replace(microsecond=0))


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


def sender_for(acs: AcsSmsStandIn, **options: object) -> AcsSmsSender:
    connection = AcsConnection(endpoint=f"{acs.url}/", connection_string=acs.connection_string())
    return AcsSmsSender(connection, connection_verify=acs.ca_file, **options)


def run(
    account,
    acs: AcsSmsStandIn,
    the_job: SmsJob,
    *,
    now: datetime | None = None,
    queue: Queue | None = None,
    **options: object,
) -> JobStatus | None:
    """Send `the_job` through the real path, at `now` (default: this test's NOW)."""
    return send_sms_job(
        the_job,
        geo="US",
        log=JobLog(account),
        sender=sender_for(acs, **options),
        queue=queue or account.queue(f"sms-{uuid.uuid4().hex[:8]}"),
        opt_outs=OptOutList(account, OPT_OUT_KEY),
        now=now or NOW,
    )


def row_of(account, the_job: SmsJob) -> dict:
    return JobLog(account).get(the_job.endpoint_id, the_job.job_id).entity


def crash_mid_send(
    account, acs: AcsSmsStandIn, the_job: SmsJob, *, reached_acs: bool, now: datetime | None = None
) -> None:
    """What a `kill -9` leaves: the job claimed (at `now`, default this test's NOW) and, when `reached_acs`, sent
    by ACS, but no answer recorded."""
    claim = JobLog(account).claim(the_job, now or NOW)
    assert claim is not None
    if reached_acs:
        tag = delivery_tag("US", the_job.endpoint_id, the_job.job_id)
        sms = OutboundSms(
            the_job.job_id, the_job.from_number, the_job.to_number, the_job.text, tag, claim.repeatability
        )
        sender_for(acs).send(sms)


def queued(storage_env: dict[str, str], queue: Queue) -> int:
    raw = QueueClient.from_connection_string(storage_env["GEO_US_STORAGE"], queue.name)
    return raw.get_queue_properties().approximate_message_count


def deliver_report(account, acs: AcsSmsStandIn, sent: SentSms) -> None:
    JobLog(account).record_delivery(parse_delivery_report(acs.delivery_report(sent)), NOW)


def test_a_job_is_sent_once_however_often_it_is_delivered(account) -> None:
    the_job = job()
    with AcsSmsStandIn([accepted("msg-1")], clock=lambda: NOW) as acs:
        assert run(account, acs, the_job) is JobStatus.SENT
        assert run(account, acs, the_job) is None
        assert len(acs.requests) == 1
    row = JobLog(account).get(the_job.endpoint_id, the_job.job_id).entity
    assert (row["Status"], row["MessageId"], row["To"]) == ("sent", "msg-1", "+*********23")


def test_the_repeatability_pair_is_stored_before_the_first_try_and_sent_with_it(account) -> None:
    the_job = job()
    with AcsSmsStandIn(clock=lambda: NOW) as acs:
        assert run(account, acs, the_job) is JobStatus.SENT
        [recipient] = acs.bodies()[0]["smsRecipients"]
    row = row_of(account, the_job)
    assert recipient["repeatabilityRequestId"] == row["RequestId"] == request_id(the_job.job_id, 1)
    assert parsedate_to_datetime(recipient["repeatabilityFirstSent"]) == row["FirstSent"] == NOW


def test_a_crash_after_acs_sent_is_repeated_inside_the_window_and_acs_sends_once(account) -> None:
    the_job = job()
    with AcsSmsStandIn(clock=lambda: NOW) as acs:
        crash_mid_send(account, acs, the_job, reached_acs=True)
        assert run(account, acs, the_job, now=NOW + timedelta(minutes=2)) is JobStatus.SENT
        [sent] = acs.sent
        first, second = acs.bodies()
    assert first["smsRecipients"] == second["smsRecipients"]
    assert row_of(account, the_job)["MessageId"] == sent.message_id


def test_a_crash_before_acs_got_it_is_sent_once_by_the_redelivery(account) -> None:
    the_job = job()
    with AcsSmsStandIn(clock=lambda: NOW) as acs:
        crash_mid_send(account, acs, the_job, reached_acs=False)
        assert run(account, acs, the_job, now=NOW + timedelta(minutes=1)) is JobStatus.SENT
        assert len(acs.sent) == 1


def test_a_timeout_after_acs_sent_is_retried_with_the_same_pair_and_not_sent_twice(account, storage_env) -> None:
    the_job = job()
    queue = account.queue(f"sms-{uuid.uuid4().hex[:8]}")
    with AcsSmsStandIn(delay_seconds=1.5, clock=lambda: NOW) as acs:
        assert run(account, acs, the_job, queue=queue, read_timeout=0.3) is JobStatus.RETRY
        assert row_of(account, the_job)["MayHaveSent"] is True
        assert queued(storage_env, queue) == 1
        acs.delay_seconds = 0
        again = dataclasses.replace(the_job, attempt=2)
        assert run(account, acs, again, now=NOW + timedelta(seconds=30), queue=queue) is JobStatus.SENT
        assert len(acs.sent) == 1
        assert len({body["smsRecipients"][0]["repeatabilityRequestId"] for body in acs.bodies()}) == 1


def test_after_the_window_a_job_that_went_out_is_settled_by_its_delivery_report(account, storage_env) -> None:
    the_job = job()
    queue = account.queue(f"sms-{uuid.uuid4().hex[:8]}")
    later = NOW + timedelta(minutes=6)
    with AcsSmsStandIn(clock=lambda: NOW) as acs:
        crash_mid_send(account, acs, the_job, reached_acs=True)
        acs.clock = lambda: later
        assert run(account, acs, the_job, now=later, queue=queue) is JobStatus.UNCONFIRMED
        assert row_of(account, the_job)["Status"] == "unconfirmed"
        assert queued(storage_env, queue) == 1  # the check, due after RECONCILE_AFTER
        [sent] = acs.sent
        deliver_report(account, acs, sent)
        assert row_of(account, the_job)["Status"] == "sent"
        assert run(account, acs, the_job, now=later + RECONCILE_AFTER, queue=queue) is None
        assert len(acs.sent) == 1
    row = row_of(account, the_job)
    assert (row["MessageId"], row["Delivery"], row["Resent"]) == (sent.message_id, "delivered", False)


def test_after_the_window_a_job_without_a_report_is_sent_once_more_and_marked_so(account, storage_env) -> None:
    the_job = job()
    queue = account.queue(f"sms-{uuid.uuid4().hex[:8]}")
    later = NOW + timedelta(minutes=6)
    with AcsSmsStandIn(clock=lambda: later) as acs:
        crash_mid_send(account, acs, the_job, reached_acs=False)
        assert run(account, acs, the_job, now=later, queue=queue) is JobStatus.UNCONFIRMED
        assert acs.requests == []
        early = later + timedelta(minutes=10)
        assert run(account, acs, the_job, now=early, queue=queue) is JobStatus.UNCONFIRMED  # not due: checks later
        assert acs.requests == []
        due = later + RECONCILE_AFTER
        acs.clock = lambda: due
        assert run(account, acs, the_job, now=due, queue=queue) is JobStatus.SENT
        [sent] = acs.sent
    row = row_of(account, the_job)
    assert (row["Status"], row["Resent"], row["RequestId"]) == ("sent", True, request_id(the_job.job_id, 2))
    assert sent.request_id == request_id(the_job.job_id, 2)
    index = account.table(SMS_REPORT).get(report_partition(the_job.endpoint_id, f"{NOW:%Y%m%d}"), the_job.job_id)
    assert (index.entity["Status"], index.entity["Resent"]) == ("sent", True)


def test_a_resend_that_is_again_unconfirmed_is_recorded_unknown_with_its_reason(account, storage_env) -> None:
    the_job = job()
    queue = account.queue(f"sms-{uuid.uuid4().hex[:8]}")
    log = JobLog(account)
    first_check = NOW + timedelta(minutes=6)
    resend_at = first_check + RECONCILE_AFTER
    with AcsSmsStandIn(clock=lambda: resend_at) as acs:
        crash_mid_send(account, acs, the_job, reached_acs=False)
        assert run(account, acs, the_job, now=first_check, queue=queue) is JobStatus.UNCONFIRMED
        claim = log.claim(the_job, resend_at)  # the resend is claimed, then its instance dies too
        assert claim is not None
        assert row_of(account, the_job)["Resent"] is True
        second_check = resend_at + timedelta(minutes=6)
        assert run(account, acs, the_job, now=second_check, queue=queue) is JobStatus.UNCONFIRMED
        assert run(account, acs, the_job, now=second_check + RECONCILE_AFTER, queue=queue) is None
        assert acs.sent == []
    row = row_of(account, the_job)
    assert (row["Status"], row["Reason"]) == ("unknown", NO_REPORT_AFTER_RESEND)
    index = account.table(SMS_REPORT).get(report_partition(the_job.endpoint_id, f"{NOW:%Y%m%d}"), the_job.job_id)
    assert (index.entity["Status"], index.entity["Reason"]) == ("unknown", NO_REPORT_AFTER_RESEND)


def test_acs_answering_412_leads_to_reconciliation_not_to_a_second_sms(account, storage_env) -> None:
    the_job = job()
    queue = account.queue(f"sms-{uuid.uuid4().hex[:8]}")
    with AcsSmsStandIn(clock=lambda: NOW + timedelta(minutes=6)) as acs:  # ACS's clock runs ahead of ours
        assert run(account, acs, the_job, queue=queue) is JobStatus.UNCONFIRMED
        [item] = [json.loads(acs.requests[0].body)]
        assert acs.sent == []
    assert item["smsRecipients"][0]["repeatabilityRequestId"] == request_id(the_job.job_id, 1)
    assert row_of(account, the_job)["Status"] == "unconfirmed"
    assert queued(storage_env, queue) == 1


def test_a_throttled_job_retried_after_the_window_starts_a_fresh_request(account) -> None:
    the_job = job()
    later = NOW + timedelta(minutes=20)
    with AcsSmsStandIn([THROTTLED, accepted()], clock=lambda: later) as acs:
        acs.clock = lambda: NOW
        assert run(account, acs, the_job) is JobStatus.RETRY
        acs.clock = lambda: later
        assert run(account, acs, dataclasses.replace(the_job, attempt=2), now=later) is JobStatus.SENT
        [sent] = acs.sent
    assert sent.request_id == request_id(the_job.job_id, 2)
    assert row_of(account, the_job)["Resent"] is False  # nothing had gone out: not a resend


def test_throttling_requeues_the_job_after_its_retry_after_then_it_is_sent(account, storage_env) -> None:
    the_job = job()
    queue = account.queue(f"sms-{uuid.uuid4().hex[:8]}")
    log = JobLog(account)
    with AcsSmsStandIn([THROTTLED, accepted("msg-2")], clock=lambda: NOW) as acs:
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
    with AcsSmsStandIn([recipient_failed(400, "Invalid phone number")], clock=lambda: NOW) as acs:
        assert run(account, acs, the_job) is JobStatus.FAILED
        assert run(account, acs, the_job) is None
    row = JobLog(account).get(the_job.endpoint_id, the_job.job_id).entity
    assert row["Status"] == "failed"
    assert "6175550123" not in row["Reason"]


def test_the_last_attempt_gives_up(account) -> None:
    the_job = job(attempt=MAX_ATTEMPTS)
    with AcsSmsStandIn([THROTTLED], clock=lambda: NOW) as acs:
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


def test_a_fresh_request_after_throttling_still_gets_its_one_resend(account, storage_env) -> None:
    the_job = job()
    queue = account.queue(f"sms-{uuid.uuid4().hex[:8]}")
    later = NOW + timedelta(minutes=20)
    with AcsSmsStandIn([THROTTLED, accepted()], clock=lambda: NOW) as acs:
        assert run(account, acs, the_job, queue=queue) is JobStatus.RETRY
        retried = dataclasses.replace(the_job, attempt=2)
        claim = JobLog(account).claim(retried, later)  # a fresh request (generation 2), then a crash
        assert claim is not None
        assert claim.repeatability.request_id == request_id(the_job.job_id, 2)
        check = later + timedelta(minutes=6)
        assert run(account, acs, retried, now=check, queue=queue) is JobStatus.UNCONFIRMED
        due = check + RECONCILE_AFTER
        acs.clock = lambda: due
        assert run(account, acs, retried, now=due, queue=queue) is JobStatus.SENT
        [sent] = acs.sent
    assert sent.request_id == request_id(the_job.job_id, 3)
    assert row_of(account, the_job)["Resent"] is True
