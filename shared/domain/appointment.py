"""Appointment state as scheduling messages move it, and the SMS each move calls for.

Rules that keep the pipeline safe to redeliver and reorder:

* Idempotent per sender + MSH-10: a message whose control id was the last one applied changes nothing.
* Ordered by MSH-7: a message older than the last one applied never moves the appointment (a late
  booking does not resurrect an appointment whose cancellation came first: the cancellation left a
  tombstone carrying its message time).
* The phone number is kept only while it may still be needed: a cancellation sends its SMS and then
  the number is dropped at once; so does a discontinuation (S16), whose SMS is the endpoint's choice.
* No SMS about a visit that is over: a message for a visit whose end has passed is stored, and sends
  nothing (its link would already be dead).
* The SMS a change calls for is stored with the state (`pending_notice`) in the same write, so a crash
  between storing and queueing the SMS is repaired by the redelivery: a duplicate hands back the pending
  notice, and its deterministic job id keeps it to one SMS.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import quote

from shared.domain.sms_text import SmsKind


class Status(StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"
    DISCONTINUED = "discontinued"
    DELETED = "deleted"
    NO_SHOW = "no_show"


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    STALE = "stale"


DEFAULT_DURATION_MINUTES = 30
"""Used for the meeting end and the purge time when the message gives no duration."""

_CLOSING = {
    "cancelled": Status.CANCELLED,
    "discontinued": Status.DISCONTINUED,
    "deleted": Status.DELETED,
    "no_show": Status.NO_SHOW,
}
_OPENING = ("booked", "rescheduled", "modified")


@dataclass(frozen=True)
class Change:
    """What one scheduling message says about one appointment (the parser's output, narrowed)."""

    kind: str  # booked | rescheduled | modified | cancelled | discontinued | deleted | no_show
    sender: str
    control_id: str
    message_time: datetime
    start: datetime | None
    duration_minutes: int | None
    phone: str | None
    language: str | None = None
    department_id: str | None = None
    department_name: str | None = None


@dataclass(frozen=True)
class Appointment:
    status: Status
    start: datetime | None
    duration_minutes: int | None
    phone: str | None
    last_sender: str
    last_control_id: str
    last_message_time: datetime
    schedule_version: int = 0
    """Increases whenever the start time changes: reminders and job ids of an older time are stale."""
    join_token: str | None = None
    """The patient's SMS link token; kept until the purge after the visit."""
    pending_notice: SmsKind | None = None
    """The SMS the last applied change called for."""
    notice_phone: str | None = None
    """Where a cancellation notice goes after the number left the state; cleared once it is queued."""
    language: str | None = None
    """The patient's language (ISO 639-1) from the last message that stated one; None: the endpoint's default."""
    department_id: str | None = None
    department_name: str | None = None

    @property
    def end(self) -> datetime | None:
        if self.start is None:
            return None
        return self.start + timedelta(minutes=self.duration_minutes or DEFAULT_DURATION_MINUTES)

    @property
    def open(self) -> bool:
        return self.status is Status.BOOKED


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    appointment: Appointment  # the state to store (unchanged for duplicates and stale messages)

    @property
    def notice(self) -> SmsKind | None:
        """The SMS to queue: the change's own, or, for a redelivery, the one it may not have queued yet."""
        return None if self.outcome is Outcome.STALE else self.appointment.pending_notice

    @property
    def notice_phone(self) -> str | None:
        return self.appointment.notice_phone or self.appointment.phone


MAX_APPOINTMENT_KEY_LENGTH = 256
"""Azure Tables keys hold at most 1 KiB (512 UTF-16 characters), and the schedule index's row key adds about
100 characters (due time, kind, lead, version, endpoint id) to the appointment key. Epic's CSNs are digits."""


def appointment_key(appointment_id: str) -> str:
    """The appointment id as a table key: Azure Tables refuse / \\ # ? and control characters in keys."""
    return quote(appointment_id, safe="")


def apply_change(
    current: Appointment | None, change: Change, *, now: datetime, notify_discontinued: bool = False
) -> Decision:
    """The next state of an appointment and the SMS notice, if any, that the change calls for.

    `now` tells a visit that is over (no notice about it); `notify_discontinued` is the endpoint's choice
    whether a discontinuation (S16) tells the patient, as a cancellation does. Raises ValueError for an
    unknown change kind.
    """
    if current is not None:
        if (current.last_sender, current.last_control_id) == (change.sender, change.control_id):
            return Decision(Outcome.DUPLICATE, current)
        if change.message_time < current.last_message_time:
            return Decision(Outcome.STALE, current)
    if change.kind in _CLOSING:
        status = _CLOSING[change.kind]
        notify = status is not Status.NO_SHOW and (status is not Status.DISCONTINUED or notify_discontinued)
        decision = _close(current, change, status, notify=notify)
    elif change.kind in _OPENING:
        decision = _open(current, change)
    else:
        raise ValueError(f"unknown change kind {change.kind!r}")
    state = decision.appointment
    if state.pending_notice is not None and state.end is not None and state.end <= now:
        # The visit is over: store what the message says, tell the patient nothing.
        return Decision(decision.outcome, replace(state, pending_notice=None, notice_phone=None))
    return decision


def _stamp(change: Change, notice: SmsKind | None = None, notice_phone: str | None = None) -> dict[str, object]:
    return {
        "last_sender": change.sender,
        "last_control_id": change.control_id,
        "last_message_time": change.message_time,
        "pending_notice": notice,
        "notice_phone": notice_phone,
    }


def _described(change: Change, current: Appointment | None) -> dict[str, object]:
    """Language and department as the message states them, else as the appointment knew them."""
    return {
        name: getattr(change, name) or (getattr(current, name) if current else None)
        for name in ("language", "department_id", "department_name")
    }


def _open(current: Appointment | None, change: Change) -> Decision:
    """Booked, rescheduled or modified: confirm a new appointment, update a moved one."""
    phone = change.phone or (current.phone if current else None)
    start = change.start or (current.start if current else None)
    duration = change.duration_minutes or (current.duration_minutes if current else None)
    if current is None or not current.open:
        # New to us (or re-booked after a cancellation): the patient has no valid confirmation yet.
        version = current.schedule_version + 1 if current else 1
        token = current.join_token if current else None
        state = Appointment(
            Status.BOOKED,
            start,
            duration,
            phone,
            schedule_version=version,
            join_token=token,
            **_described(change, current),
            **_stamp(change, SmsKind.SCHEDULED),
        )
        return Decision(Outcome.APPLIED, state)
    moved = start != current.start
    state = replace(
        current,
        start=start,
        duration_minutes=duration,
        phone=phone,
        schedule_version=current.schedule_version + (1 if moved else 0),
        **_described(change, current),
        **_stamp(change, SmsKind.UPDATED if moved else None),
    )
    return Decision(Outcome.APPLIED, state)


def _close(current: Appointment | None, change: Change, status: Status, *, notify: bool) -> Decision:
    """Cancelled, discontinued or deleted: tell the patient (if they were confirmed and `notify`) and drop the
    number; no-show: keep the number until the purge after the visit, like any appointment that took place."""
    if current is None:
        # A cancellation before its booking: a tombstone, so the late booking is recognised as stale.
        tombstone = Appointment(status, change.start, change.duration_minutes, None, **_stamp(change))
        return Decision(Outcome.APPLIED, tombstone)
    keep_phone = status is Status.NO_SHOW
    notify = notify and current.open and current.phone is not None
    stamp = _stamp(change, SmsKind.CANCELLED, current.phone) if notify else _stamp(change)
    phone = current.phone if keep_phone else None
    state = replace(current, status=status, phone=phone, **_described(change, current), **stamp)
    return Decision(Outcome.APPLIED, state)
