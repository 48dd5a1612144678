"""The visit log: when each visit's meeting opened, who launched it how often, how long patients waited.

Table `visits` in the organisation's geography account, one row per visit:

    PartitionKey  f"{endpoint_id}|{scheduled start UTC:%Y%m%d}"  (a report reads one partition per endpoint and day)
    RowKey        appointment_key(visit id)                      (table-safe)
    VisitId, ScheduledStart (UTC), Department (optional), MeetingCreatedAt, FirstProviderLaunchAt,
    FirstPatientJoinAt, ProviderLaunches (int), PatientLaunches (int), LobbyWaitSeconds, EndedAt,
    DurationSeconds (the last three optional); from Teams call events also CallStartedAt and
    FirstPatientConnectedAt (the times the derived figures are computed from), and CallEventsMissed (true
    when Graph reported call events it could not deliver)

Updates are read-modify-write with the ETag, retried when a concurrent writer won; "first" fields are
set once. No patient names, MRNs, phone numbers or FHIR resources ever go in it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from shared.adapters.storage import Storage, Table
from shared.domain.appointment import appointment_key
from shared.domain.call_events import CallEvent, apply_call_event
from shared.errors import ConflictError, NotFoundError, PreconditionFailedError

logger = logging.getLogger(__name__)

VISITS_TABLE = "visits"
MAX_ATTEMPTS = 5
"""Concurrent launches of one visit are a handful of people; more lost races than this is a fault."""

LAUNCH_COUNTERS = {
    "provider": ("ProviderLaunches", "FirstProviderLaunchAt"),
    "patient": ("PatientLaunches", "FirstPatientJoinAt"),
}


def visit_partition(endpoint_id: str, scheduled_start: datetime) -> str:
    return visit_day_partition(endpoint_id, f"{scheduled_start.astimezone(UTC):%Y%m%d}")


def visit_day_partition(endpoint_id: str, day: str) -> str:
    """The partition of one endpoint's visits scheduled on one UTC day (`YYYYMMDD`)."""
    return f"{endpoint_id}|{day}"


class VisitLog:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def record_launch(
        self,
        geo: str,
        *,
        endpoint_id: str,
        visit_id: str,
        scheduled_start: datetime,
        role: str,
        department: str | None,
        at: datetime,
    ) -> None:
        """Count a launch by role ("provider" or "patient"); the first of each, and the meeting's opening,
        set their time once. Raises UpstreamError, ConflictError (lost the race MAX_ATTEMPTS times)."""
        counter, first = LAUNCH_COUNTERS[role]

        def change(entity: dict[str, Any]) -> None:
            entity[counter] = int(entity.get(counter) or 0) + 1
            entity.setdefault(first, at)
            entity.setdefault("MeetingCreatedAt", at)
            if department and not entity.get("Department"):
                entity["Department"] = department

        self._update(geo, endpoint_id, visit_id, scheduled_start, change)

    def record_call_event(
        self, geo: str, *, endpoint_id: str, visit_id: str, scheduled_start: datetime, event: CallEvent
    ) -> None:
        """Apply one Teams call event (`apply_call_event`: never backwards, duplicates change nothing).
        Raises UpstreamError, ConflictError (lost the race MAX_ATTEMPTS times)."""
        self._update(geo, endpoint_id, visit_id, scheduled_start, lambda entity: apply_call_event(entity, event))

    def record_missed_call_events(
        self, geo: str, *, endpoint_id: str, visit_id: str, scheduled_start: datetime
    ) -> None:
        """Graph said it could not deliver some call events (lifecycle `missed`): the row's figures may be
        incomplete, and `CallEventsMissed` says so. Raises UpstreamError, ConflictError."""
        self._update(geo, endpoint_id, visit_id, scheduled_start, lambda entity: entity.update(CallEventsMissed=True))

    def patient_joined(self, geo: str, *, endpoint_id: str, visit_id: str, scheduled_start: datetime) -> bool:
        """Whether a patient of the visit launched it, or reached its lobby or meeting (Teams call events).
        Raises UpstreamError."""
        table = self._storage.for_geo(geo).table(VISITS_TABLE)
        try:
            row = table.get(visit_partition(endpoint_id, scheduled_start), appointment_key(visit_id)).entity
        except NotFoundError:
            return False
        return bool(row.get("FirstPatientJoinAt"))

    def _update(
        self,
        geo: str,
        endpoint_id: str,
        visit_id: str,
        scheduled_start: datetime,
        change: Callable[[dict[str, Any]], None],
    ) -> None:
        table = self._storage.for_geo(geo).table(VISITS_TABLE)
        keys = {"PartitionKey": visit_partition(endpoint_id, scheduled_start), "RowKey": appointment_key(visit_id)}
        for _ in range(MAX_ATTEMPTS):
            if _try_update(table, keys, visit_id, scheduled_start, change):
                return
        raise ConflictError("The visit log row kept changing under us.")


def _try_update(
    table: Table,
    keys: dict[str, str],
    visit_id: str,
    scheduled_start: datetime,
    change: Callable[[dict[str, Any]], None],
) -> bool:
    """One read-modify-write; False when a concurrent writer won (the caller reads again)."""
    try:
        stored = table.get(keys["PartitionKey"], keys["RowKey"])
    except NotFoundError:
        entity: dict[str, Any] = {
            **keys,
            "VisitId": visit_id,
            "ScheduledStart": scheduled_start,
            "ProviderLaunches": 0,
            "PatientLaunches": 0,
        }
        change(entity)
        try:
            table.create(entity)
        except ConflictError:
            return False
        return True
    entity = dict(stored.entity)
    change(entity)
    try:
        table.replace(entity, stored.etag)
    except PreconditionFailedError:
        return False
    return True
