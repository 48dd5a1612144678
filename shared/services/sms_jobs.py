"""Queue SMS jobs and send them once: the `sms-outbound` path shared by confirmations and reminders."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from shared.adapters.sms_jobs import JobLog, JobStatus, Step
from shared.adapters.storage import Queue, Stored
from shared.domain.sms import OutboundSms, SmsSender
from shared.domain.sms_delivery import delivery_tag
from shared.domain.sms_job import RECONCILE_AFTER, SmsJob, retry_delay
from shared.errors import SmsOutcomeUnknownError, UpstreamError

logger = logging.getLogger(__name__)

OPTED_OUT_REASON = "opted out: the patient texted STOP to this number"


class OptOuts(Protocol):
    """Whether a patient texted STOP to one of our numbers (and not START since)."""

    def is_opted_out(self, our_number: str, patient_number: str) -> bool: ...


def enqueue_sms_job(queue: Queue, job: SmsJob, *, delay_seconds: int | None = None) -> None:
    """Put `job` on the geography's sms-outbound queue. Raises UpstreamError when storage fails."""
    queue.send(job.to_message(), delay_seconds=delay_seconds)
    logger.info("SMS job %s (%s) queued for endpoint %s", job.job_id, job.kind, job.endpoint_id)


def send_sms_job(
    job: SmsJob, *, geo: str, log: JobLog, sender: SmsSender, queue: Queue, opt_outs: OptOuts, now: datetime
) -> JobStatus | None:
    """Send `job` exactly once; the status it ends in, None if there was nothing to do.

    Every try carries the job's repeatability pair from the job log, so a try after a crash or a timeout
    is deduplicated by ACS while it tracks the request; after that a job that may have gone out is
    reconciled with its delivery report (see `shared.adapters.sms_jobs`): the check is the job itself,
    queued again to come back after RECONCILE_AFTER, queued before the row says `unconfirmed` so that a
    crash in between only repeats the step.

    A patient who opted out of the sending number gets nothing: the job is recorded failed with the
    reason, never sent. The SMS is tagged with its geography, endpoint and job id (`delivery_tag`) so
    its delivery report finds the job with one read.

    A provider's passing failure is retried by queueing the job again after its Retry-After (or our
    back-off), so the host's fixed retry interval never hammers a throttled provider; after
    MAX_ATTEMPTS it is recorded as failed. Storage failures raise UpstreamError for the host to retry.
    """
    claim = log.claim(job, now)
    if claim is None:
        logger.info("SMS job %s already handled; not sent again", job.job_id)
        return None
    if claim.step is Step.CHECK_LATER:
        enqueue_sms_job(queue, job, delay_seconds=claim.wait_seconds)
        return JobStatus.UNCONFIRMED
    if claim.step is Step.RECONCILE:
        return _reconcile(job, claim.stored, log, queue, now, "interrupted after ACS stopped tracking its request")
    claimed = claim.stored
    if opt_outs.is_opted_out(job.from_number, job.to_number):
        log.record(claimed, JobStatus.FAILED, now, Reason=OPTED_OUT_REASON)
        logger.info("SMS job %s not sent: the patient opted out of the number", job.job_id)
        return JobStatus.FAILED
    sms = OutboundSms(
        job_id=job.job_id,
        from_number=job.from_number,
        to_number=job.to_number,
        text=job.text,
        tag=delivery_tag(geo, job.endpoint_id, job.job_id),
        repeatability=claim.repeatability,
    )
    try:
        receipt = sender.send(sms)
    except SmsOutcomeUnknownError as error:
        if not error.repeatable:
            return _reconcile(job, claimed, log, queue, now, error.message)
        return _retry(job, claimed, log, queue, now, error, may_have_sent=True)
    except UpstreamError as error:
        if not error.retryable:
            log.record(claimed, JobStatus.FAILED, now, Reason=error.message)
            logger.warning("SMS job %s failed: %s", job.job_id, error.message)
            return JobStatus.FAILED
        return _retry(job, claimed, log, queue, now, error, may_have_sent=claim.may_have_sent)
    if receipt.accepted:
        log.record(claimed, JobStatus.SENT, now, MessageId=receipt.message_id or "", Reason="")
        logger.info("SMS job %s sent", job.job_id)
        return JobStatus.SENT
    log.record(claimed, JobStatus.FAILED, now, Reason=receipt.reason or "refused by the provider")
    logger.warning("SMS job %s refused by the provider: %s", job.job_id, receipt.reason)
    return JobStatus.FAILED


def _retry(
    job: SmsJob, claimed: Stored, log: JobLog, queue: Queue, now: datetime, error: UpstreamError, *, may_have_sent: bool
) -> JobStatus:
    """Queue the job's next attempt after the provider's (or our) delay, or give up after MAX_ATTEMPTS."""
    delay = retry_delay(job.attempt, error.retry_after)
    if delay is None:
        if may_have_sent:
            return _reconcile(job, claimed, log, queue, now, f"gave up after {job.attempt} attempts: {error.message}")
        log.record(claimed, JobStatus.FAILED, now, Reason=f"gave up after {job.attempt} attempts: {error.message}")
        logger.warning("SMS job %s failed after %d attempts", job.job_id, job.attempt)
        return JobStatus.FAILED
    log.record(claimed, JobStatus.RETRY, now, Reason=error.message, MayHaveSent=may_have_sent)
    enqueue_sms_job(queue, replace(job, attempt=job.attempt + 1), delay_seconds=delay)
    logger.info("SMS job %s will be tried again in %d s", job.job_id, delay)
    return JobStatus.RETRY


def _reconcile(job: SmsJob, stored: Stored, log: JobLog, queue: Queue, now: datetime, reason: str) -> JobStatus:
    """The job may have gone out and ACS cannot tell: its delivery report will, or it goes once more later."""
    enqueue_sms_job(queue, job, delay_seconds=int(RECONCILE_AFTER.total_seconds()))
    log.mark_unconfirmed(stored, now, f"unconfirmed: {reason}; waiting for the delivery report")
    logger.warning("SMS job %s may have gone out; waiting for its delivery report", job.job_id)
    return JobStatus.UNCONFIRMED
