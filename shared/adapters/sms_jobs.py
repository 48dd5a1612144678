"""The SMS job log in a geography's `smsjobs` table: what happened to every SMS, never the number in clear.

PartitionKey = endpoint id, RowKey = job id. `Status` moves `sending` -> `sent` | `failed` | `retry`
(-> `sending` again); a job found `sending` by a redelivery was interrupted mid-send and becomes `unknown`
rather than risk a second SMS. Fields: Kind, AppointmentKey, From (our number), To (masked), MessageId,
Reason, Attempts, CreatedAt, UpdatedAt, ReportDay, and from the delivery report Delivery (delivered or
the not-delivered reason) and DeliveryAt (the report's time, so an older report never overwrites a newer).

Every write after the claim also upserts (best effort, see `_index`) the job's row in the report index
`smsreport` (PartitionKey = f"{endpoint id}|{ReportDay}", the UTC day the job was first claimed; RowKey =
job id; fields SentAt, From, Kind, Status, Reason, Delivery): a report over a date range reads exactly its
days' partitions.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from shared.adapters.storage import StorageAccount, Stored
from shared.domain.phone import mask_phone
from shared.domain.sms_delivery import DeliveryReport
from shared.domain.sms_job import SmsJob
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
    UNKNOWN = "unknown"


class JobLog:
    def __init__(self, account: StorageAccount) -> None:
        self._table = account.table(SMS_JOBS)
        self._report = account.table(SMS_REPORT)

    def claim(self, job: SmsJob, now: datetime) -> Stored | None:
        """Take the job for sending: the claimed row (with the ETag to record its outcome), or None when it
        is not ours to send. Raises PreconditionFailedError when another instance claimed it at that instant.
        """
        entity = {
            "PartitionKey": job.endpoint_id,
            "RowKey": job.job_id,
            "Status": str(JobStatus.SENDING),
            "Kind": str(job.kind),
            "AppointmentKey": job.appointment_key,
            "From": job.from_number,
            "To": mask_phone(job.to_number),
            "Attempts": job.attempt,
            "CreatedAt": now,
            "UpdatedAt": now,
            "ReportDay": f"{now.astimezone(UTC):{REPORT_DAY_FORMAT}}",
        }
        try:
            # Not indexed yet: the report shows jobs by outcome, which the next write records and indexes.
            return Stored(entity, self._table.create(entity))
        except ConflictError:
            stored = self._table.get(job.endpoint_id, job.job_id)
        status = stored.entity["Status"]
        if status == JobStatus.RETRY:
            return self._replace(stored, JobStatus.SENDING, now, Attempts=job.attempt)
        if status == JobStatus.SENDING:
            # A previous delivery stopped between claiming and recording: the SMS may have gone out.
            self._replace(stored, JobStatus.UNKNOWN, now)
        return None

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
        status = JobStatus(entity["Status"])
        return self._replace(stored, status, now, Delivery=str(report.outcome), DeliveryAt=report.received_at).entity

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
                "Status": entity["Status"],
                "Reason": entity.get("Reason", ""),
                "Delivery": entity.get("Delivery", ""),
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
