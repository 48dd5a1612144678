"""The schedule index: due buckets, reminder and purge entries, staleness after a reschedule."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from shared.domain.appointment import Appointment, Status
from shared.domain.schedule import (
    EntryKind,
    bucket_of,
    buckets_between,
    due_now,
    due_row_key_limit,
    entries_for,
    is_over,
    job_id,
    reminder_action,
    without_contact,
)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
START = datetime(2026, 12, 3, 14, 30, tzinfo=UTC)
GRACE = timedelta(minutes=15)


def booked(start: datetime = START, version: int = 1) -> Appointment:
    return Appointment(Status.BOOKED, start, 20, "+15555550123", "S", "c1", NOW, schedule_version=version)


def test_entries_are_one_reminder_per_lead_and_one_purge() -> None:
    entries = entries_for("ep", "a1", booked(), reminder_leads=(60, 1440, 60), purge_grace=timedelta(hours=1), now=NOW)
    assert [(e.kind, e.lead_minutes, e.due) for e in entries] == [
        (EntryKind.REMINDER, 1440, START - timedelta(days=1)),
        (EntryKind.REMINDER, 60, START - timedelta(hours=1)),
        (EntryKind.PURGE, 0, START + timedelta(minutes=20) + timedelta(hours=1)),
    ]
    assert len({e.row_key for e in entries}) == 3


def test_a_reminder_already_past_at_booking_is_not_scheduled() -> None:
    soon = NOW + timedelta(hours=2)
    entries = entries_for("ep", "a1", booked(soon), reminder_leads=(1440, 60), purge_grace=GRACE, now=NOW)
    assert [(e.kind, e.lead_minutes) for e in entries] == [(EntryKind.REMINDER, 60), (EntryKind.PURGE, 0)]


def test_a_closed_appointment_gets_only_its_purge() -> None:
    cancelled = replace(booked(), status=Status.NO_SHOW)
    entries = entries_for("ep", "a1", cancelled, reminder_leads=(60,), purge_grace=GRACE, now=NOW)
    assert [e.kind for e in entries] == [EntryKind.PURGE]


def test_row_keys_sort_by_due_instant_and_the_limit_includes_exactly_what_is_due() -> None:
    entries = entries_for("ep", "a1", booked(), reminder_leads=(1440, 60), purge_grace=GRACE, now=NOW)
    keys = [e.row_key for e in entries]
    assert keys == sorted(keys)
    reminder_60 = entries[1]
    assert reminder_60.row_key <= due_row_key_limit(reminder_60.due)
    assert reminder_60.row_key > due_row_key_limit(reminder_60.due - timedelta(seconds=1))


def test_buckets_are_hours_in_utc() -> None:
    assert bucket_of(datetime(2026, 12, 1, 23, 59, tzinfo=UTC)) == "2026120123"
    assert buckets_between(NOW - timedelta(minutes=90), NOW) == ["2026120107", "2026120108", "2026120109"]


def test_reminder_actions() -> None:
    [entry, *_] = entries_for("ep", "a1", booked(), reminder_leads=(60,), purge_grace=GRACE, now=NOW)
    assert reminder_action(entry, booked(), now=entry.due, grace=GRACE) == "send"
    # Late but before the visit: sent late.
    assert reminder_action(entry, booked(), now=START - timedelta(minutes=1), grace=GRACE) == "send"
    # Late and the visit has begun: skipped.
    assert reminder_action(entry, booked(), now=START + timedelta(minutes=1), grace=GRACE) == "missed"
    # Rescheduled, cancelled or gone: stale.
    assert reminder_action(entry, booked(version=2), now=entry.due, grace=GRACE) == "stale"
    assert reminder_action(entry, replace(booked(), status=Status.CANCELLED), now=entry.due, grace=GRACE) == "stale"
    assert reminder_action(entry, None, now=entry.due, grace=GRACE) == "stale"


def test_a_late_reminder_gives_way_to_a_closer_one_that_is_due_too() -> None:
    day, hour, _ = entries_for("ep", "a1", booked(), reminder_leads=(1440, 60), purge_grace=GRACE, now=NOW)
    ten_to = START - timedelta(minutes=10)
    assert reminder_action(day, booked(), now=ten_to, grace=GRACE, leads=(1440, 60)) == "superseded"
    assert reminder_action(hour, booked(), now=ten_to, grace=GRACE, leads=(1440, 60)) == "send"
    assert reminder_action(day, booked(), now=day.due, grace=GRACE, leads=(1440, 60)) == "send"


def test_job_ids_are_deterministic_and_distinct_per_notice() -> None:
    assert job_id("ep", "a1", "reminder", 1, 60) == job_id("ep", "a1", "reminder", 1, 60)
    ids = {
        job_id("ep", "a1", "reminder", 1, 60),
        job_id("ep", "a1", "reminder", 1, 1440),
        job_id("ep", "a1", "reminder", 2, 60),
        job_id("ep", "a1", "scheduled", 1),
        job_id("ep", "a2", "scheduled", 1),
        job_id("ep2", "a1", "scheduled", 1),
    }
    assert len(ids) == 6


def test_an_entry_due_before_the_current_hour_is_filed_in_it() -> None:
    [*_, purge] = entries_for("ep", "a1", booked(), reminder_leads=(), purge_grace=GRACE, now=NOW)
    later = purge.due + timedelta(days=2)
    filed = due_now(purge, later)
    assert (filed.bucket, filed.row_key, filed.due) == (bucket_of(later), purge.row_key, purge.due)
    assert filed.row_key <= due_row_key_limit(later)  # due at once in the bucket it is filed in
    assert due_now(purge, purge.due - timedelta(hours=3)) is purge  # a future entry stays in its own hour
    assert due_now(filed, later + timedelta(hours=1)).bucket == bucket_of(later + timedelta(hours=1))


def test_a_visit_is_over_at_its_purge_time() -> None:
    visit = booked()
    purge = START + timedelta(minutes=20) + GRACE
    assert not is_over(visit, GRACE, purge - timedelta(seconds=1))
    assert is_over(visit, GRACE, purge)
    assert not is_over(replace(visit, start=None), GRACE, purge)
    bare = without_contact(replace(visit, join_token="eu-x", notice_phone="+15555550123"))
    assert (bare.phone, bare.join_token, bare.notice_phone, bare.start) == (None, None, None, START)
