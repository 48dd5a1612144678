"""When each appointment needs the timer: reminders at the endpoint's lead times, and the purge after the visit.

The schedule index is partitioned by the hour in which an entry falls due, and its row keys start with the
due instant, so a timer tick reads only the entries due by now, whatever the number of appointments stored.
Every entry carries the appointment's schedule version: after a reschedule the old entries no longer match
the appointment and are recognised as stale when they come due.

No entry is ever filed behind the timer's cursor: one due before the hour it is written in (a booking of a
visit that is over, a reschedule after a purge, the next entry of a late tick) is due now and is filed in
the current hour's bucket (`due_now`), which no tick has finished; the timer also re-reads the bucket before
its clock's hour, so a writer whose clock lags the timer's by less than `CLOCK_SKEW` is caught too.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from shared.domain.appointment import Appointment, Status

BUCKET_FORMAT = "%Y%m%d%H"
DUE_FORMAT = "%Y%m%dT%H%M%S"
CLOCK_SKEW = timedelta(hours=1)
"""How far behind the timer's clock a writer's clock may be: each tick re-reads the buckets this far back."""


class EntryKind(StrEnum):
    REMINDER = "reminder"
    PURGE = "purge"
    FORGET = "forget"
    """The end of the reporting period after the purge: the appointment row itself goes."""


@dataclass(frozen=True)
class ScheduleEntry:
    due: datetime
    kind: EntryKind
    endpoint_id: str
    appointment_key: str
    schedule_version: int
    lead_minutes: int = 0
    filed_in: str | None = None
    """The bucket the entry was written to when that is later than its due hour (see `due_now`)."""

    @property
    def bucket(self) -> str:
        return max(self.filed_in or "", bucket_of(self.due))

    @property
    def row_key(self) -> str:
        """Sorts by due instant inside the bucket; unique per appointment, kind, lead and version."""
        return (
            f"{self.due.astimezone(UTC):{DUE_FORMAT}}|{self.kind}|{self.lead_minutes}|"
            f"{self.schedule_version}|{self.endpoint_id}|{self.appointment_key}"
        )


def bucket_of(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):{BUCKET_FORMAT}}"


def due_now(entry: ScheduleEntry, now: datetime) -> ScheduleEntry:
    """`entry` as it must be filed at `now`: in its due hour, or, when that hour is already past, in now's
    (its row key still starts with its due instant, so the next tick finds it due)."""
    current = bucket_of(now)
    return entry if entry.bucket >= current else replace(entry, filed_in=current)


def forget_entry(purge: ScheduleEntry, reporting_period: timedelta) -> ScheduleEntry:
    """The entry that deletes the appointment's row once its purge is a reporting period old."""
    return ScheduleEntry(
        purge.due + reporting_period,
        EntryKind.FORGET,
        purge.endpoint_id,
        purge.appointment_key,
        purge.schedule_version,
    )


def purge_time(appointment: Appointment, purge_grace: timedelta) -> datetime | None:
    """When the appointment's phone number and join link go: the visit's end plus the grace."""
    return appointment.end + purge_grace if appointment.end is not None else None


def is_over(appointment: Appointment, purge_grace: timedelta, now: datetime) -> bool:
    """True when the visit is past its purge time at `now`: nothing of the patient's contact is kept for it."""
    purge = purge_time(appointment, purge_grace)
    return purge is not None and purge <= now


def without_contact(appointment: Appointment) -> Appointment:
    """What the purge keeps of an appointment: times, status and department for reports; no number, no join
    link, no language (it says something about the patient)."""
    return replace(appointment, phone=None, join_token=None, notice_phone=None, language=None)


def due_row_key_limit(now: datetime) -> str:
    """Row keys up to this bound (inclusive) are due at `now`: `~` sorts after every key character we use."""
    return f"{now.astimezone(UTC):{DUE_FORMAT}}|~"


def buckets_between(first: datetime, last: datetime) -> list[str]:
    """The hour buckets from `first` to `last`, both included, oldest first."""
    hour = first.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    end = last.astimezone(UTC)
    buckets = []
    while hour <= end:
        buckets.append(bucket_of(hour))
        hour += timedelta(hours=1)
    return buckets


def entries_for(
    endpoint_id: str,
    appointment_key: str,
    appointment: Appointment,
    *,
    reminder_leads: tuple[int, ...],
    purge_grace: timedelta,
    now: datetime,
) -> list[ScheduleEntry]:
    """The entries a booked appointment needs: reminders still ahead of `now`, and its purge.

    A reminder whose moment has already passed when the appointment is (re)scheduled is not created: the
    confirmation the patient is being sent at this moment carries the same information.
    """
    if appointment.start is None or appointment.end is None:
        return []
    version = appointment.schedule_version
    entries = [
        ScheduleEntry(
            appointment.start - timedelta(minutes=lead), EntryKind.REMINDER, endpoint_id, appointment_key, version, lead
        )
        for lead in sorted(set(reminder_leads), reverse=True)
        if appointment.status is Status.BOOKED and appointment.start - timedelta(minutes=lead) > now
    ]
    entries.append(ScheduleEntry(appointment.end + purge_grace, EntryKind.PURGE, endpoint_id, appointment_key, version))
    return entries


def first_entry(
    endpoint_id: str,
    appointment_key: str,
    appointment: Appointment,
    *,
    reminder_leads: tuple[int, ...],
    purge_grace: timedelta,
    now: datetime,
) -> ScheduleEntry | None:
    """The entry to index when an appointment is (re)scheduled: the index holds one row per appointment,
    its next one, and handling it indexes the one after (`entry_after`), so a booking costs one index write
    whatever the number of reminders."""
    entries = entries_for(
        endpoint_id, appointment_key, appointment, reminder_leads=reminder_leads, purge_grace=purge_grace, now=now
    )
    return min(entries, key=lambda entry: entry.due, default=None)


def entry_after(
    entry: ScheduleEntry, appointment: Appointment, *, reminder_leads: tuple[int, ...], purge_grace: timedelta
) -> ScheduleEntry | None:
    """The appointment's entry that follows `entry` (None after its purge)."""
    later = [
        following
        for following in entries_for(
            entry.endpoint_id,
            entry.appointment_key,
            appointment,
            reminder_leads=reminder_leads,
            purge_grace=purge_grace,
            now=entry.due,
        )
        if following.due > entry.due
    ]
    return min(later, key=lambda following: following.due, default=None)


def reminder_action(
    entry: ScheduleEntry,
    appointment: Appointment | None,
    *,
    now: datetime,
    grace: timedelta,
    leads: tuple[int, ...] = (),
) -> str:
    """`send`, or why not: `stale` (rescheduled, cancelled, gone), `missed` (late and the visit has begun),
    `superseded` (late, and a closer reminder of `leads` is due too: one text, not two at once)."""
    if appointment is None or appointment.status is not Status.BOOKED:
        return "stale"
    if appointment.schedule_version != entry.schedule_version or appointment.start is None:
        return "stale"
    if now > entry.due + grace and now >= appointment.start:
        return "missed"
    if any(lead < entry.lead_minutes and appointment.start - timedelta(minutes=lead) <= now for lead in leads):
        return "superseded"
    return "send"


def job_id(endpoint_id: str, appointment_key: str, kind: str, schedule_version: int, lead_minutes: int = 0) -> str:
    """The deterministic id of one SMS: the same notice for the same schedule is one job, however often queued."""
    material = f"{endpoint_id}|{appointment_key}|{kind}|{schedule_version}|{lead_minutes}"
    return hashlib.sha256(material.encode()).hexdigest()[:32]
