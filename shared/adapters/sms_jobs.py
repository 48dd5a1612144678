"""The SMS job log in a geography's `smsjobs` table: what happened to every SMS, never the number in clear.

PartitionKey = endpoint id, RowKey = job id. `Status` moves `sending` -> `sent` | `failed` | `retry`
(-> `sending` again); a job found `sending` by a redelivery was interrupted mid-send and becomes `unknown`
rather than risk a second SMS. Fields: Kind, AppointmentKey, From (our number), To (masked), MessageId,
Reason, Attempts, CreatedAt, UpdatedAt.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.adapters.storage import StorageAccount, Stored
from shared.domain.phone import mask_phone
from shared.domain.sms_job import SmsJob
from shared.errors import ConflictError, NotFoundError

SMS_JOBS = "smsjobs"


class JobStatus(StrEnum):
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    RETRY = "retry"
    UNKNOWN = "unknown"


class JobLog:
    def __init__(self, account: StorageAccount) -> None:
        self._table = account.table(SMS_JOBS)

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
        }
        try:
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

    def _replace(self, stored: Stored, status: JobStatus, now: datetime, **fields: Any) -> Stored:
        entity = {**stored.entity, "Status": str(status), "UpdatedAt": now, **fields}
        return Stored(entity, self._table.replace(entity, stored.etag))

    def get(self, endpoint_id: str, job_id: str) -> Stored:
        """Raises NotFoundError."""
        return self._table.get(endpoint_id, job_id)

    def find(self, endpoint_id: str, job_id: str) -> dict[str, Any] | None:
        try:
            return self.get(endpoint_id, job_id).entity
        except NotFoundError:
            return None
