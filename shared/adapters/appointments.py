"""Appointments and their schedule index in a geography's tables.

`appointments`: PartitionKey = endpoint id, RowKey = appointment key; the state of
`shared.domain.appointment`: the phone number and the join-link token until the purge after the visit,
and the SMS the last change called for. `schedule`: PartitionKey = `<bucket>|<shard>`, the UTC hour an
entry falls due and one of SCHEDULE_SHARDS shards of its appointment, RowKey = `ScheduleEntry.row_key` (an
entry written after its hour is filed in the hour it was written in, `shared.domain.schedule.due_now`);
read by the timer one due bucket at a time, its shards in turn. `timerstate`: the timer's cursor (the last
bucket it finished). All three live in the organisation's geography account.

Why SCHEDULE_SHARDS = 4: a clinic's bookings are often for the same hours, so one bucket can take a whole
geography's booking peak. Each booking writes one entry (later deleted, and each reminder chains the next):
at 10x the ingress rate of `bench/pipeline.py` (about 230 messages/s on the benchmark machine, so 2,300/s)
that is about 4,600 entity operations/s on one bucket, 1,150/s per shard, under the ~2,000 entities/s that
Azure Tables targets per partition; the timer pays 4 range queries per bucket instead of one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from shared.adapters.storage import StorageAccount, Stored
from shared.domain.appointment import Appointment, Status
from shared.domain.schedule import EntryKind, ScheduleEntry, bucket_of, due_row_key_limit
from shared.domain.sms_text import SmsKind
from shared.errors import NotFoundError

APPOINTMENTS = "appointments"
SCHEDULE = "schedule"
TIMER_STATE = "timerstate"
SCHEDULE_SHARDS = 4


class AppointmentStore:
    def __init__(self, account: StorageAccount) -> None:
        self._table = account.table(APPOINTMENTS)

    def get(self, endpoint_id: str, key: str) -> tuple[Appointment, str]:
        """The appointment and its ETag. Raises NotFoundError."""
        stored = self._table.get(endpoint_id, key)
        return _appointment(stored.entity), stored.etag

    def find(self, endpoint_id: str, key: str) -> tuple[Appointment | None, str | None]:
        """The appointment and its ETag, or (None, None) when there is none yet."""
        try:
            return self.get(endpoint_id, key)
        except NotFoundError:
            return None, None

    def create(self, endpoint_id: str, key: str, appointment: Appointment) -> str:
        """Raises ConflictError when another message created it first."""
        return self._table.create(appointment_entity(endpoint_id, key, appointment))

    def replace(self, endpoint_id: str, key: str, appointment: Appointment, etag: str) -> str:
        """Raises PreconditionFailedError when another message changed it since `etag` was read."""
        return self._table.replace(appointment_entity(endpoint_id, key, appointment), etag)

    def delete(self, endpoint_id: str, key: str, etag: str) -> None:
        """Raises PreconditionFailedError when a message changed it since `etag` was read."""
        self._table.delete(endpoint_id, key, etag)


class ScheduleIndex:
    def __init__(self, account: StorageAccount) -> None:
        self._table = account.table(SCHEDULE)
        self._state = account.table(TIMER_STATE)

    def add(self, entries: Iterable[ScheduleEntry]) -> None:
        """Upsert: adding the same entry twice (a redelivered message) leaves one row."""
        for entry in entries:
            self._table.upsert(schedule_entity(entry))

    def list_due(self, bucket: str, now: datetime) -> Iterator[ScheduleEntry]:
        """Entries of one bucket that are due at `now`, in due order: a row-key range in each shard."""
        rows = [
            row
            for shard in range(SCHEDULE_SHARDS)
            for row in self._table.query(
                "PartitionKey eq @partition and RowKey le @limit",
                {"partition": _partition(bucket, shard), "limit": due_row_key_limit(now)},
            )
        ]
        for row in sorted(rows, key=lambda row: row.entity["RowKey"]):
            yield _entry(row)

    def remove(self, entry: ScheduleEntry) -> None:
        self._table.delete(schedule_partition(entry), entry.row_key)

    def get_cursor(self, name: str = "schedule") -> tuple[str | None, str | None]:
        """The last bucket the timer finished, and the ETag to advance it with (None, None before the first).

        `name` tells the timer's cursors apart: `schedule` (hours of this index), `retention` (report days).
        """
        try:
            stored = self._state.get("cursor", name)
        except NotFoundError:
            return None, None
        return stored.entity["Bucket"], stored.etag

    def advance_cursor(self, bucket: str, etag: str | None, name: str = "schedule") -> None:
        """Raises ConflictError / PreconditionFailedError when another tick moved it first."""
        entity = {"PartitionKey": "cursor", "RowKey": name, "Bucket": bucket}
        if etag is None:
            self._state.create(entity)
        else:
            self._state.replace(entity, etag)


def schedule_partition(entry: ScheduleEntry) -> str:
    """The entry's bucket and its appointment's shard (every entry of one appointment in the same shard)."""
    digest = hashlib.sha256(f"{entry.endpoint_id}|{entry.appointment_key}".encode()).digest()
    return _partition(entry.bucket, int.from_bytes(digest[:4], "big") % SCHEDULE_SHARDS)


def _partition(bucket: str, shard: int) -> str:
    return f"{bucket}|{shard}"


def schedule_entity(entry: ScheduleEntry) -> dict[str, Any]:
    return {
        "PartitionKey": schedule_partition(entry),
        "RowKey": entry.row_key,
        "Due": entry.due,
        "Kind": str(entry.kind),
        "EndpointId": entry.endpoint_id,
        "AppointmentKey": entry.appointment_key,
        "ScheduleVersion": entry.schedule_version,
        "LeadMinutes": entry.lead_minutes,
    }


def appointment_entity(endpoint_id: str, key: str, appointment: Appointment) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "PartitionKey": endpoint_id,
        "RowKey": key,
        "Status": str(appointment.status),
        "LastSender": appointment.last_sender,
        "LastControlId": appointment.last_control_id,
        "LastMessageTime": appointment.last_message_time,
        "ScheduleVersion": appointment.schedule_version,
    }
    optional = {
        "Start": appointment.start,
        "DurationMinutes": appointment.duration_minutes,
        "Phone": appointment.phone,
        "JoinToken": appointment.join_token,
        "PendingNotice": str(appointment.pending_notice) if appointment.pending_notice else None,
        "NoticePhone": appointment.notice_phone,
        "Language": appointment.language,
        "DepartmentId": appointment.department_id,
        "DepartmentName": appointment.department_name,
    }
    entity.update({name: value for name, value in optional.items() if value is not None})
    return entity


def _appointment(entity: dict[str, Any]) -> Appointment:
    return Appointment(
        status=Status(entity["Status"]),
        start=entity.get("Start"),
        duration_minutes=entity.get("DurationMinutes"),
        phone=entity.get("Phone"),
        last_sender=entity["LastSender"],
        last_control_id=entity["LastControlId"],
        last_message_time=entity["LastMessageTime"],
        schedule_version=entity["ScheduleVersion"],
        join_token=entity.get("JoinToken"),
        pending_notice=SmsKind(entity["PendingNotice"]) if entity.get("PendingNotice") else None,
        notice_phone=entity.get("NoticePhone"),
        language=entity.get("Language"),
        department_id=entity.get("DepartmentId"),
        department_name=entity.get("DepartmentName"),
    )


def _entry(row: Stored) -> ScheduleEntry:
    entity = row.entity
    return ScheduleEntry(
        due=entity["Due"],
        kind=EntryKind(entity["Kind"]),
        endpoint_id=entity["EndpointId"],
        appointment_key=entity["AppointmentKey"],
        schedule_version=entity["ScheduleVersion"],
        lead_minutes=entity["LeadMinutes"],
        filed_in=bucket if (bucket := entity["PartitionKey"].partition("|")[0]) != bucket_of(entity["Due"]) else None,
    )
