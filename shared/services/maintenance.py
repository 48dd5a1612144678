"""The timer's work in one geography: send the reminders that are due, purge what a past visit leaves behind.

Cost follows the work due, not the data stored: a tick reads the schedule index's due buckets only (from
the bucket after its cursor, or `CLOCK_SKEW` before now if that is earlier, up to now), one point read of
the appointment per due entry, and the cached endpoint. Safe to run twice at once and after a crash:
entries are removed only once handled, reminder jobs have deterministic ids (the SMS path sends each
once), purges are idempotent, and the cursor moves only past buckets that were emptied. A failing entry
stays for the next tick; the others go on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from shared.adapters.appointments import AppointmentStore, ScheduleIndex
from shared.adapters.storage import StorageAccount
from shared.domain.appointment import Appointment
from shared.domain.schedule import (
    BUCKET_FORMAT,
    CLOCK_SKEW,
    EntryKind,
    ScheduleEntry,
    bucket_of,
    buckets_between,
    due_now,
    entry_after,
    forget_entry,
    reminder_action,
    without_contact,
)
from shared.domain.sms_text import SmsKind
from shared.errors import ConflictError, ConnectorError, NotFoundError
from shared.queue_names import SMS_OUTBOUND_QUEUE
from shared.services.notices import NoticePolicy, sms_job_for
from shared.services.scheduling import Directory
from shared.services.sms_jobs import enqueue_sms_job

logger = logging.getLogger(__name__)

REMINDER_GRACE = timedelta(minutes=15)
"""A reminder later than this (the timer was down) is still sent before the visit, skipped after its start."""
FIRST_LOOKBACK = timedelta(hours=48)
"""How far back the very first tick of a geography looks (no cursor yet)."""


class JoinTokenRemover(Protocol):
    def retire(self, token: str, endpoint_id: str, now: datetime) -> None: ...


@dataclass
class TickReport:
    geo: str
    buckets: int = 0
    reminders: int = 0
    purged: int = 0
    forgotten: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    failed: int = 0
    refiled: int = 0
    """Entries indexed during the tick that were due already (filed in now's bucket)."""

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def run_tick(
    *,
    geo: str,
    account: StorageAccount,
    directory: Directory,
    join_tokens: JoinTokenRemover,
    policy: NoticePolicy,
    now: datetime,
) -> TickReport:
    """Handle every entry of `geo` due by `now`. Raises only when the index itself cannot be read."""
    index = ScheduleIndex(account)
    report = TickReport(geo)
    cursor, etag = index.get_cursor()
    # Re-reading the bucket before now's hour catches an entry a slower clock filed there after the cursor
    # passed it; after the clock went back (cursor ahead of now) every bucket from then on is read again.
    first = min(_after(cursor), now - CLOCK_SKEW) if cursor else now - FIRST_LOOKBACK
    finished: str | None = None  # the last bucket of an unbroken run of emptied past buckets
    advancing = True
    for bucket in buckets_between(first, now):
        handled = _handle_bucket(bucket, account, index, directory, join_tokens, policy, now, report)
        advancing = advancing and handled and bucket < bucket_of(now)
        if advancing:
            finished = bucket
    # What handling indexed that is due already went into now's bucket (`due_now`): follow it up in this
    # tick, as a late timer catches up; an appointment has one entry per lead time and a purge, so this ends.
    followed = 0
    while report.refiled > followed:
        followed = report.refiled
        _handle_bucket(bucket_of(now), account, index, directory, join_tokens, policy, now, report)
    if finished:
        try:
            index.advance_cursor(finished, etag)
        except ConflictError:
            logger.info("Another tick of %s moved the schedule cursor first", geo)
    return report


def _handle_bucket(
    bucket: str,
    account: StorageAccount,
    index: ScheduleIndex,
    directory: Directory,
    join_tokens: JoinTokenRemover,
    policy: NoticePolicy,
    now: datetime,
    report: TickReport,
) -> bool:
    """Handle the entries of `bucket` due by `now`; False when one failed and stays."""
    report.buckets += 1
    handled = [
        _handle(entry, account, index, directory, join_tokens, policy, now, report)
        for entry in index.list_due(bucket, now)
    ]
    return all(handled)


def _after(bucket: str) -> datetime:
    return datetime.strptime(bucket, BUCKET_FORMAT).replace(tzinfo=UTC) + timedelta(hours=1)


def _handle(
    entry: ScheduleEntry,
    account: StorageAccount,
    index: ScheduleIndex,
    directory: Directory,
    join_tokens: JoinTokenRemover,
    policy: NoticePolicy,
    now: datetime,
    report: TickReport,
) -> bool:
    """Act on one due entry and remove it; False (entry kept) when it failed and must be tried again."""
    try:
        if entry.kind is EntryKind.REMINDER:
            appointment = _remind(entry, account, directory, policy, now, report)
            if appointment is not None and appointment.schedule_version == entry.schedule_version:
                _index_next(entry, appointment, index, directory, policy, now, report)
        elif entry.kind is EntryKind.PURGE:
            if _purge(entry, account, join_tokens, now, report):
                index.add([due_now(forget_entry(entry, policy.reporting_period), now)])
        else:
            _forget(entry, account, report)
        index.remove(entry)
    except ConnectorError as error:
        report.failed += 1
        logger.warning(
            "Schedule entry %s of endpoint %s failed, kept for the next tick: %s",
            entry.kind,
            entry.endpoint_id,
            error.message,
        )
        return False
    return True


def _index_next(
    entry: ScheduleEntry,
    appointment: Appointment,
    index: ScheduleIndex,
    directory: Directory,
    policy: NoticePolicy,
    now: datetime,
    report: TickReport,
) -> None:
    """Index what follows `entry` before `entry` goes: a crash in between repeats work, never loses it."""
    endpoint = directory.get_endpoint(entry.endpoint_id)
    leads = endpoint.sms.reminder_lead_minutes if endpoint.sms.reminders_enabled else ()
    following = entry_after(entry, appointment, reminder_leads=leads, purge_grace=policy.purge_grace)
    if following is not None:
        index.add([due_now(following, now)])
        report.refiled += following.due <= now


def _remind(
    entry: ScheduleEntry,
    account: StorageAccount,
    directory: Directory,
    policy: NoticePolicy,
    now: datetime,
    report: TickReport,
) -> Appointment | None:
    """Queue the reminder if it is still wanted; the appointment as read (None when it is gone)."""
    appointment, _ = AppointmentStore(account).find(entry.endpoint_id, entry.appointment_key)
    endpoint = directory.get_endpoint(entry.endpoint_id)
    leads = endpoint.sms.reminder_lead_minutes
    action = reminder_action(entry, appointment, now=now, grace=REMINDER_GRACE, leads=leads)
    if action != "send" or appointment is None:
        report.skip(f"reminder {action}")
        return appointment
    if entry.lead_minutes not in leads:
        report.skip("reminder lead no longer configured")
        return appointment
    organisation = directory.get_organisation(endpoint.org_id)
    job, why = sms_job_for(
        endpoint,
        organisation,
        entry.appointment_key,
        appointment,
        SmsKind.REMINDER,
        appointment.phone,
        policy,
        lead_minutes=entry.lead_minutes,
    )
    if job is None:
        report.skip(f"reminder not sent: {why}")
        return appointment
    enqueue_sms_job(account.queue(SMS_OUTBOUND_QUEUE), job)
    report.reminders += 1
    return appointment


def _purge(
    entry: ScheduleEntry, account: StorageAccount, join_tokens: JoinTokenRemover, now: datetime, report: TickReport
) -> bool:
    """Drop the phone number and the join link of a visit that is over (the link then says so for a while);
    keep what reports need. False when the entry was stale (the appointment is gone, or its newer schedule has
    a purge of its own)."""
    store = AppointmentStore(account)
    try:
        appointment, etag = store.get(entry.endpoint_id, entry.appointment_key)
    except NotFoundError:
        report.skip("purge: appointment gone")
        return False
    if appointment.schedule_version != entry.schedule_version:
        report.skip("purge stale (rescheduled)")
        return False
    if appointment.join_token:
        join_tokens.retire(appointment.join_token, entry.endpoint_id, now)
    if appointment.phone or appointment.join_token or appointment.notice_phone:
        store.replace(
            entry.endpoint_id,
            entry.appointment_key,
            without_contact(appointment),
            etag,
        )
    report.purged += 1
    return True


def _forget(entry: ScheduleEntry, account: StorageAccount, report: TickReport) -> None:
    """Delete the appointment row a reporting period after its purge, unless a reschedule made it current."""
    store = AppointmentStore(account)
    try:
        appointment, etag = store.get(entry.endpoint_id, entry.appointment_key)
    except NotFoundError:
        return
    if appointment.schedule_version != entry.schedule_version:
        report.skip("forget stale (rescheduled)")
        return
    store.delete(entry.endpoint_id, entry.appointment_key, etag)
    report.forgotten += 1
