"""Appointments and the schedule index on Azurite, in the geography's own account."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shared.adapters.appointments import AppointmentStore, ScheduleIndex
from shared.adapters.storage import Storage
from shared.domain.appointment import Appointment, Status, appointment_key
from shared.domain.schedule import bucket_of, entries_for
from shared.errors import ConflictError, NotFoundError, PreconditionFailedError
from shared.settings import load_settings

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
START = datetime(2026, 12, 3, 14, 30, tzinfo=UTC)


@pytest.fixture
def storage(storage_env: dict[str, str]) -> Storage:
    return Storage(load_settings(storage_env))


def booked() -> Appointment:
    return Appointment(Status.BOOKED, START, 20, "+15555550123", "EPIC|H", "c1", NOW, schedule_version=1)


def test_appointments_round_trip_with_etags(storage: Storage) -> None:
    store = AppointmentStore(storage.for_geo("EU"))
    endpoint, key = f"ep{uuid.uuid4().hex[:8]}", appointment_key("CSN/123#4?")
    etag = store.create(endpoint, key, booked())
    with pytest.raises(ConflictError):
        store.create(endpoint, key, booked())

    stored, read_etag = store.get(endpoint, key)
    assert stored == booked()
    assert read_etag == etag

    purged = Appointment(Status.BOOKED, START, 20, None, "EPIC|H", "c2", NOW, schedule_version=1)
    store.replace(endpoint, key, purged, etag)
    with pytest.raises(PreconditionFailedError):
        store.replace(endpoint, key, booked(), etag)
    assert store.get(endpoint, key)[0].phone is None
    with pytest.raises(NotFoundError):
        store.get(endpoint, appointment_key("other"))


def test_the_index_returns_only_what_is_due_in_a_bucket(storage: Storage) -> None:
    index = ScheduleIndex(storage.for_geo("US"))
    endpoint = f"ep{uuid.uuid4().hex[:8]}"
    entries = entries_for(endpoint, "a1", booked(), reminder_leads=(20, 10), purge_grace=timedelta(hours=1), now=NOW)
    index.add(entries)
    index.add(entries)  # a redelivered message adds nothing
    reminder_20, reminder_10, _ = entries
    assert bucket_of(reminder_20.due) == bucket_of(reminder_10.due)

    def due(now: datetime) -> list:
        return [e for e in index.list_due(reminder_20.bucket, now) if e.endpoint_id == endpoint]

    assert due(reminder_20.due - timedelta(seconds=1)) == []
    assert due(reminder_20.due) == [reminder_20]
    assert due(reminder_10.due) == [reminder_20, reminder_10]
    index.remove(reminder_20)
    index.remove(reminder_20)  # idempotent
    assert due(reminder_10.due) == [reminder_10]


def test_the_cursor_advances_once_under_a_race(storage: Storage) -> None:
    index = ScheduleIndex(storage.for_geo("APAC"))
    _, etag = index.get_cursor()
    index.advance_cursor("2026120100", etag)
    _, fresh = index.get_cursor()
    index.advance_cursor("2026120101", fresh)
    with pytest.raises(ConflictError):  # PreconditionFailedError, or ConflictError on first creation
        index.advance_cursor("2026120102", fresh)
    assert index.get_cursor()[0] == "2026120101"
