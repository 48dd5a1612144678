"""The SMS job log in a geography's `smsjobs` table: what happened to every SMS, never the number in clear.

PartitionKey = endpoint id, RowKey = job id. `Status` moves `sending` -> `sent` | `failed` | `retry`
(-> `sending` again) | `unconfirmed`. Each try carries the row's ACS repeatability pair (RequestId,
FirstSent), written with the claim before the first try, so a try after a crash repeats it and ACS sends
once (`shared.domain.sms_job.next_try`). A job found `sending` (its try was interrupted) or `retry` is tried
again with the same pair while ACS still tracks it; once ACS no longer does, a job that may have gone out
becomes `unconfirmed` and waits RECONCILE_AFTER for its delivery report: a report makes it `sent`, none
makes it go out once more with a new request id (`Resent`), and a resend that again ends unconfirmed
without a report is recorded `unknown` with its reason, in the SMS report like every job. Fields: Kind,
Language and Segments (of the text, counted before it was queued), AppointmentKey, From (our number), To
(masked), MessageId, Reason, Attempts, CreatedAt, UpdatedAt, ReportDay, RequestId, FirstSent, Generation,
MayHaveSent, Resent, UnconfirmedAt, and from the delivery report Delivery (delivered or the not-delivered
reason) and DeliveryAt (the report's time, so an older report never overwrites a newer).

Every write after the claim also upserts (best effort, see `_index`) the job's row in the report index
`smsreport` (PartitionKey = f"{endpoint id}|{ReportDay}", the UTC day the job was first claimed; RowKey = job
id; fields SentAt, From, Kind, Language, Segments, Status, Reason, Delivery, Resent): a report over a date
range reads exactly its days' partitions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from shared.adapters.storage import StorageAccount, Stored
from shared.domain.phone import mask_phone
from shared.domain.sms import Repeatability
from shared.domain.sms_delivery import DeliveryReport
from shared.domain.sms_job import RECONCILE_AFTER, NextTry, SmsJob, next_try, request_id
from shared.errors import ConflictError, NotFoundError, UpstreamError

logger = logging.getLogger(__name__)

SMS_JOBS = "smsjobs"
SMS_REPORT = "smsreport"
REPORT_DAY_FORMAT = "%Y%m%d"


def report_partition(endpoint_id: str, day: str) -> str:
    """The report index partition of one endpoint and UTC day (`YYYYMMDD`)."""
    return f"{endpoint_id}|{day}"


class JobStatus(StrEnum):
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    RETRY = "retry"
    UNCONFIRMED = "unconfirmed"
    UNKNOWN = "unknown"


NO_REPORT_AFTER_RESEND = "no delivery report, after sending once more: whether the patient got the SMS is unknown"


class Step(StrEnum):
    SEND = "send"  # the claimed row is ours: send with its repeatability pair
    RECONCILE = "reconcile"  # it may have gone out and ACS no longer knows: queue a check, then `mark_unconfirmed`
    CHECK_LATER = "check_later"  # unconfirmed and not due yet: queue the check again for `wait_seconds`


@dataclass(frozen=True)
class Claim:
    step: Step
    stored: Stored
    wait_seconds: int = 0

    @property
    def repeatability(self) -> Repeatability:
        return Repeatability(self.stored.entity["RequestId"], self.stored.entity["FirstSent"])

    @property
    def may_have_sent(self) -> bool:
        return bool(self.stored.entity.get("MayHaveSent"))


class JobLog:
    def __init__(self, account: StorageAccount) -> None:
        self._table = account.table(SMS_JOBS)
        self._report = account.table(SMS_REPORT)

    def claim(self, job: SmsJob, now: datetime) -> Claim | None:
        """Take the job for its next step, or None when there is nothing to do (sent, failed, settled).

        Raises PreconditionFailedError when another instance changed the row at that instant.
        """
        entity = {
            "PartitionKey": job.endpoint_id,
            "RowKey": job.job_id,
            "Status": str(JobStatus.SENDING),
            "Kind": str(job.kind),
            "Language": job.language,
            "Segments": job.segments,
            "AppointmentKey": job.appointment_key,
            "From": job.from_number,
            "To": mask_phone(job.to_number),
            "Attempts": job.attempt,
            "CreatedAt": now,
            "UpdatedAt": now,
            "ReportDay": f"{now.astimezone(UTC):{REPORT_DAY_FORMAT}}",
            **_request(job.job_id, 1, now),
            "MayHaveSent": False,
            "Resent": False,
        }
        try:
            # Not indexed yet: the report shows jobs by outcome, which the next write records and indexes.
            return Claim(Step.SEND, Stored(entity, self._table.create(entity)))
        except ConflictError:
            stored = self._table.get(job.endpoint_id, job.job_id)
        status = stored.entity["Status"]
        if status in (JobStatus.SENDING, JobStatus.RETRY):
            return self._try_again(stored, job, now, interrupted=status == JobStatus.SENDING)
        if status == JobStatus.UNCONFIRMED:
            return self._settle(stored, job, now)
        return None

    def _try_again(self, stored: Stored, job: SmsJob, now: datetime, *, interrupted: bool) -> Claim:
        """A job whose last try was interrupted (found `sending`: it may have reached ACS) or failed in passing."""
        entity = stored.entity
        may_have_sent = interrupted or bool(entity.get("MayHaveSent"))
        first_sent = entity.get("FirstSent") or entity["UpdatedAt"]
        step = next_try(first_sent, now, may_have_sent=may_have_sent)
        if step is NextTry.RECONCILE:
            return Claim(Step.RECONCILE, stored)
        fields: dict[str, Any] = {"Attempts": job.attempt, "MayHaveSent": may_have_sent}
        if step is NextTry.FRESH or "RequestId" not in entity:
            fields.update(_request(job.job_id, int(entity.get("Generation", 0)) + 1, now), MayHaveSent=False)
        return Claim(Step.SEND, self._replace(stored, JobStatus.SENDING, now, **fields))

    def _settle(self, stored: Stored, job: SmsJob, now: datetime) -> Claim | None:
        """An unconfirmed job no delivery report has settled: wait out RECONCILE_AFTER, then send it once more."""
        entity = stored.entity
        due = entity["UnconfirmedAt"] + RECONCILE_AFTER
        if now < due:
            return Claim(Step.CHECK_LATER, stored, wait_seconds=max(int((due - now).total_seconds()) + 1, 1))
        if entity.get("Resent"):  # sent once more already: a third SMS is not worth the risk of a duplicate
            self._replace(stored, JobStatus.UNKNOWN, now, Reason=NO_REPORT_AFTER_RESEND)
            logger.warning("SMS job %s: no delivery report after sending once more; recorded unknown", job.job_id)
            return None
        generation = int(entity.get("Generation", 1)) + 1
        fields = {**_request(job.job_id, generation, now), "MayHaveSent": False, "Resent": True}
        logger.warning("SMS job %s: no delivery report within %s; sending once more", job.job_id, RECONCILE_AFTER)
        return Claim(Step.SEND, self._replace(stored, JobStatus.SENDING, now, Attempts=job.attempt, **fields))

    def mark_unconfirmed(self, stored: Stored, now: datetime, reason: str) -> None:
        """Record that the job may have gone out and only its delivery report can tell (the check is queued)."""
        self._replace(stored, JobStatus.UNCONFIRMED, now, UnconfirmedAt=now, MayHaveSent=True, Reason=reason)

    def record(self, claimed: Stored, status: JobStatus, now: datetime, **fields: Any) -> None:
        """Record the outcome of a claimed job (MessageId=..., Reason=...)."""
        self._replace(claimed, status, now, **fields)

    def record_delivery(self, report: DeliveryReport, now: datetime) -> dict[str, Any] | None:
        """Apply a delivery report to its job: the updated job, or None for a duplicate or an older report.

        Raises NotFoundError (no such job), UpstreamError(retryable) while the job is still `sending` (the
        sender has not recorded ACS's answer yet: Event Grid delivers again later), PreconditionFailedError.
        """
        stored = self.get(report.ref.endpoint_id, report.ref.job_id)
        entity = stored.entity
        if entity["Status"] == JobStatus.SENDING:
            raise UpstreamError("The SMS job is still being sent; the delivery report waits.", retryable=True)
        seen = entity.get("DeliveryAt")
        if seen is not None and seen >= report.received_at:
            return None
        fields: dict[str, Any] = {"Delivery": str(report.outcome), "DeliveryAt": report.received_at}
        status = JobStatus(entity["Status"])
        if status in (JobStatus.UNCONFIRMED, JobStatus.UNKNOWN):
            # The report proves ACS sent it: no resend.
            status = JobStatus.SENT
            fields.update(MessageId=report.message_id or entity.get("MessageId", ""), Reason="")
        return self._replace(stored, status, now, **fields).entity

    def _replace(self, stored: Stored, status: JobStatus, now: datetime, **fields: Any) -> Stored:
        entity = {**stored.entity, "Status": str(status), "UpdatedAt": now, **fields}
        replaced = Stored(entity, self._table.replace(entity, stored.etag))
        self._index(entity)
        return replaced

    def _index(self, entity: dict[str, Any]) -> None:
        """Mirror the job into the report index (jobs logged before the index existed have no ReportDay).

        A failure here is logged, not raised: the job row is the truth and already written, raising would
        make the queue retry a claimed job (which then counts as interrupted and is never sent), and the
        job's next write upserts the whole index row again.
        """
        day = entity.get("ReportDay")
        if not day:
            return
        try:
            self._upsert_index(entity, day)
        except UpstreamError as error:
            logger.warning("SMS job %s: report index not updated (%s)", entity["RowKey"], error.message)

    def _upsert_index(self, entity: dict[str, Any], day: str) -> None:
        self._report.upsert(
            {
                "PartitionKey": report_partition(entity["PartitionKey"], day),
                "RowKey": entity["RowKey"],
                "SentAt": entity["CreatedAt"],
                "From": entity["From"],
                "Kind": entity["Kind"],
                "Language": entity.get("Language", ""),
                "Segments": entity.get("Segments"),
                "Status": entity["Status"],
                "Reason": entity.get("Reason", ""),
                "Delivery": entity.get("Delivery", ""),
                "Resent": bool(entity.get("Resent")),
            }
        )

    def get(self, endpoint_id: str, job_id: str) -> Stored:
        """Raises NotFoundError."""
        return self._table.get(endpoint_id, job_id)

    def find(self, endpoint_id: str, job_id: str) -> dict[str, Any] | None:
        try:
            return self.get(endpoint_id, job_id).entity
        except NotFoundError:
            return None


def _request(job_id: str, generation: int, now: datetime) -> dict[str, Any]:
    """The row fields of a job's `generation`-th repeatable request, first sent `now`."""
    return {"RequestId": request_id(job_id, generation), "FirstSent": now, "Generation": generation}
