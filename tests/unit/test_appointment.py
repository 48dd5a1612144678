"""Appointment state transitions: idempotent, ordered by message time, cancel-before-book safe."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.appointment import Appointment, Change, Outcome, Status, apply_change
from shared.domain.sms_text import SmsKind

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
START = datetime(2026, 12, 3, 14, 30, tzinfo=UTC)
PHONE = "+15555550123"


def change(kind: str, minutes: int, control: str | None = None, **fields: object) -> Change:
    values: dict[str, object] = {"start": START, "duration_minutes": 20, "phone": PHONE}
    values.update(fields)
    return Change(
        kind=kind,
        sender="EPIC|HOSP",
        control_id=control or f"{kind}-{minutes}",
        message_time=T0 + timedelta(minutes=minutes),
        **values,
    )


def run(*changes: Change) -> list:
    state: Appointment | None = None
    decisions = []
    for item in changes:
        decision = apply_change(state, item, now=T0)
        state = decision.appointment
        decisions.append(decision)
    return decisions


def test_booking_confirms_with_the_phone() -> None:
    [decision] = run(change("booked", 0))
    assert (decision.outcome, decision.notice, decision.notice_phone) == (Outcome.APPLIED, SmsKind.SCHEDULED, PHONE)
    assert decision.appointment.status is Status.BOOKED
    assert decision.appointment.end == START + timedelta(minutes=20)


def test_redelivery_changes_nothing_and_hands_back_the_pending_notice() -> None:
    first, again = run(change("booked", 0, "c1"), change("booked", 0, "c1"))
    assert again.outcome is Outcome.DUPLICATE
    assert again.appointment == first.appointment
    # The first delivery may have crashed before queueing its SMS; the job id keeps this to one SMS.
    assert (again.notice, again.notice_phone) == (SmsKind.SCHEDULED, PHONE)


def test_the_same_control_id_from_another_sender_is_not_a_duplicate() -> None:
    booked = apply_change(None, change("booked", 0, "c1"), now=T0)
    other = Change("booked", "OTHER|APP", "c1", T0 + timedelta(minutes=1), START, 20, PHONE)
    assert apply_change(booked.appointment, other, now=T0).outcome is Outcome.APPLIED


def test_a_move_sends_an_update_and_bumps_the_schedule_version() -> None:
    later = START + timedelta(days=1)
    _, moved = run(change("booked", 0), change("rescheduled", 5, start=later))
    assert (moved.notice, moved.appointment.start, moved.appointment.schedule_version) == (SmsKind.UPDATED, later, 2)


def test_a_modification_without_a_new_time_sends_nothing() -> None:
    _, modified = run(change("booked", 0), change("modified", 5))
    assert modified.outcome is Outcome.APPLIED
    assert modified.notice is None
    assert modified.appointment.schedule_version == 1


def test_an_older_message_never_moves_the_appointment_back() -> None:
    later = START + timedelta(days=1)
    _, _, old = run(change("booked", 0), change("rescheduled", 10, start=later), change("rescheduled", 5))
    assert old.outcome is Outcome.STALE
    assert old.appointment.start == later
    assert old.notice is None


def test_cancellation_notifies_then_drops_the_number() -> None:
    _, cancelled = run(change("booked", 0), change("cancelled", 5))
    assert (cancelled.notice, cancelled.notice_phone) == (SmsKind.CANCELLED, PHONE)
    assert cancelled.appointment.phone is None
    # Only the pending notice holds the number, until the service has queued the SMS and clears it.
    assert cancelled.appointment.notice_phone == PHONE
    assert cancelled.appointment.status is Status.CANCELLED


@pytest.mark.parametrize("kind", ["cancelled", "deleted"])
def test_cancel_before_book_is_remembered_and_the_late_booking_is_stale(kind: str) -> None:
    tombstone, late_booking = run(change(kind, 5), change("booked", 0))
    assert tombstone.notice is None
    assert tombstone.appointment.phone is None
    assert late_booking.outcome is Outcome.STALE
    assert late_booking.appointment.status is not Status.BOOKED


def test_a_newer_booking_after_a_cancellation_books_again_with_the_same_link() -> None:
    booked = apply_change(None, change("booked", 0), now=T0)
    with_token = replace(booked.appointment, join_token="us-token")
    cancelled = apply_change(with_token, change("cancelled", 5), now=T0)
    rebooked = apply_change(cancelled.appointment, change("booked", 10), now=T0)
    assert rebooked.appointment.join_token == "us-token"
    assert rebooked.appointment.notice_phone is None
    assert (rebooked.notice, rebooked.appointment.status) == (SmsKind.SCHEDULED, Status.BOOKED)
    assert rebooked.appointment.schedule_version == 2


def test_no_show_keeps_the_number_for_the_purge_and_sends_nothing() -> None:
    _, no_show = run(change("booked", 0), change("no_show", 60))
    assert no_show.notice is None
    assert no_show.appointment.phone == PHONE
    assert no_show.appointment.status is Status.NO_SHOW


def test_a_message_without_a_valid_phone_keeps_the_known_one() -> None:
    _, moved = run(change("booked", 0), change("rescheduled", 5, start=START + timedelta(hours=1), phone=None))
    assert moved.notice_phone == PHONE


def test_a_booking_without_any_phone_gives_a_notice_with_nowhere_to_go() -> None:
    [decision] = run(change("booked", 0, phone=None))
    assert decision.notice is SmsKind.SCHEDULED
    assert decision.notice_phone is None


def test_unknown_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown change kind"):
        apply_change(None, change("arrived", 0), now=T0)


def test_discontinuation_stops_everything_and_tells_the_patient_only_when_the_endpoint_says_so() -> None:
    booked = apply_change(None, change("booked", 0), now=T0).appointment
    quiet = apply_change(booked, change("discontinued", 5), now=T0)
    assert (quiet.outcome, quiet.notice, quiet.appointment.status) == (Outcome.APPLIED, None, Status.DISCONTINUED)
    assert (quiet.appointment.phone, quiet.appointment.notice_phone) == (None, None)
    told = apply_change(booked, change("discontinued", 5), now=T0, notify_discontinued=True)
    assert (told.notice, told.notice_phone, told.appointment.phone) == (SmsKind.CANCELLED, PHONE, None)


def test_discontinue_before_book_leaves_a_tombstone() -> None:
    tombstone, late_booking = run(change("discontinued", 5), change("booked", 0))
    assert tombstone.appointment.status is Status.DISCONTINUED
    assert late_booking.outcome is Outcome.STALE


@pytest.mark.parametrize(
    ("kinds", "stored"),
    [
        (["booked"], Status.BOOKED),
        (["booked", "rescheduled"], Status.BOOKED),
        (["booked", "cancelled"], Status.CANCELLED),
        (["booked", "discontinued"], Status.DISCONTINUED),
    ],
)
def test_a_visit_that_is_over_is_stored_and_nobody_is_texted(kinds: list[str], stored: Status) -> None:
    after_the_visit = START + timedelta(minutes=20)  # its end: start + 20 minutes
    state: Appointment | None = None
    for minutes, kind in enumerate(kinds):
        moved = {"start": START - timedelta(hours=1)} if kind == "rescheduled" else {}
        decision = apply_change(state, change(kind, minutes, **moved), now=after_the_visit, notify_discontinued=True)
        state = decision.appointment
        assert decision.outcome is Outcome.APPLIED
        assert decision.notice is None
        assert state.notice_phone is None
    assert state is not None
    assert state.status is stored


def test_a_visit_not_yet_over_is_confirmed() -> None:
    just_before_its_end = START + timedelta(minutes=19)
    assert apply_change(None, change("booked", 0), now=just_before_its_end).notice is SmsKind.SCHEDULED
