"""The `hl7-inbound` queue function's work: one SIU message -> appointment state -> join link, schedule, SMS.

Safe to redeliver and to reorder (see `shared.domain.appointment`): the state write is conditional on its
ETag and retried on contention; everything after it (join-link row, schedule entries, SMS job) is an
idempotent upsert or a deterministic job, redone on a redelivery so a crash mid-way loses nothing.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from shared.adapters.appointments import AppointmentStore, ScheduleIndex
from shared.adapters.storage import StorageAccount
from shared.domain.appointment import Appointment, Change, Decision, Outcome, Status, apply_change, appointment_key
from shared.domain.config import Endpoint, Organisation
from shared.domain.hl7_message import Hl7MessageError
from shared.domain.join_tokens import JoinTarget, new_token
from shared.domain.schedule import due_now, first_entry, is_over, without_contact
from shared.domain.siu import AppointmentEvent, EventKind, parse_siu
from shared.errors import ConflictError, InvalidMessageError, NotFoundError, PreconditionFailedError, UpstreamError
from shared.log_safety import loggable
from shared.queue_names import HL7_INBOUND_QUEUE, SMS_OUTBOUND_QUEUE
from shared.services.hl7_ingress import OVERFLOW_CONTAINER
from shared.services.notices import NoticePolicy, sms_job_for
from shared.services.sms_jobs import enqueue_sms_job

logger = logging.getLogger(__name__)

MAX_WRITE_ATTEMPTS = 5


class Directory(Protocol):
    def get_endpoint(self, endpoint_id: str) -> Endpoint: ...

    def get_organisation(self, org_id: str) -> Organisation: ...


class JoinTokenWriter(Protocol):
    def upsert(self, token: str, target: JoinTarget) -> None: ...


def process_hl7_message(
    payload: Any,
    *,
    geo: str,
    account: StorageAccount,
    directory: Directory,
    join_tokens: JoinTokenWriter,
    policy: NoticePolicy,
    now: datetime,
) -> str:
    """Apply one queued message; returns what happened (for the log). Raises InvalidMessageError for a message
    no retry can fix, storage's permanent refusals included (the trigger records and completes it), and
    UpstreamError for storage trouble worth retrying."""
    endpoint_id, body, blob = _read_payload(payload, account)
    endpoint = directory.get_endpoint(endpoint_id)
    if endpoint.geo != geo:
        raise InvalidMessageError(f"Endpoint {endpoint_id} belongs to {endpoint.geo}, not {geo}.")
    try:
        event = parse_siu(body, local_tz=ZoneInfo(endpoint.time_zone), phone_region=policy.phone_region)
    except Hl7MessageError as error:
        raise InvalidMessageError(f"HL7 message for endpoint {endpoint_id} not applied: {error.message}") from error
    try:
        outcome = _apply(event, endpoint, geo, account, directory, join_tokens, policy, now)
    except UpstreamError as error:
        if error.retryable:
            raise
        # Storage refused the request itself (a 400: a key or value it cannot hold): retrying cannot help.
        raise InvalidMessageError(
            f"HL7 {event.control_id} for endpoint {endpoint_id} not applied: {error.message}"
        ) from error
    if blob:
        account.container(OVERFLOW_CONTAINER).delete(blob)
    return outcome


def _apply(
    event: AppointmentEvent,
    endpoint: Endpoint,
    geo: str,
    account: StorageAccount,
    directory: Directory,
    join_tokens: JoinTokenWriter,
    policy: NoticePolicy,
    now: datetime,
) -> str:
    if event.kind is EventKind.IGNORED:
        reason = loggable(event.ignored_reason)
        logger.info("HL7 %s for endpoint %s ignored: %s", loggable(event.control_id), endpoint.id, reason)
        return "ignored"
    if event.phone_issue:
        logger.info("HL7 %s for endpoint %s: %s, so no SMS", loggable(event.control_id), endpoint.id, event.phone_issue)
    if event.language_unknown:
        logger.info(
            "HL7 %s for endpoint %s: language_unknown=1 (PID-15 is no known language code; default language used)",
            loggable(event.control_id),
            endpoint.id,
        )
    key = appointment_key(event.appointment_id or "")
    change = Change(
        kind=str(event.kind),
        sender=f"{event.header.sending_application}|{event.header.sending_facility}",
        control_id=event.control_id,
        message_time=event.message_time,
        start=event.start,
        duration_minutes=event.duration_minutes,
        phone=event.phone,
        language=event.language,
        department_id=event.department_id,
        department_name=event.department_name,
    )
    store = AppointmentStore(account)
    decision, etag = _write(store, endpoint, key, change, geo, policy, now)
    logger.info("HL7 %s for endpoint %s: %s", loggable(event.control_id), endpoint.id, decision.outcome)
    if decision.outcome is Outcome.STALE:
        return str(decision.outcome)
    state = decision.appointment
    if state.join_token and state.start and state.end:
        join_tokens.upsert(
            state.join_token,
            JoinTarget(
                endpoint.id,
                geo,
                event.appointment_id or "",
                state.start,
                state.end,
                str(state.status),
                endpoint.organizer_user_id,
            ),
        )
    leads = endpoint.sms.reminder_lead_minutes if endpoint.sms.reminders_enabled else ()
    first = first_entry(endpoint.id, key, state, reminder_leads=leads, purge_grace=policy.purge_grace, now=now)
    if first is not None:
        ScheduleIndex(account).add([due_now(first, now)])
    if decision.notice:
        _queue_notice(decision, endpoint, directory, key, account, store, etag, policy)
    return str(decision.outcome)


def _write(
    store: AppointmentStore, endpoint: Endpoint, key: str, change: Change, geo: str, policy: NoticePolicy, now: datetime
) -> tuple[Decision, str]:
    """Apply the change under optimistic concurrency; a booked appointment gets its join token here.

    A visit already over (past its purge time) keeps no phone number and gets no join link: a late booking,
    or a reschedule after the purge, must not bring back what the purge removed.

    A booking is usually of an appointment we have never seen: it is created straight away, and read
    only when the create finds it exists (one storage call instead of two on the common path).
    """
    assume_new = change.kind == "booked"
    for _ in range(MAX_WRITE_ATTEMPTS):
        current, etag = (None, None) if assume_new else store.find(endpoint.id, key)
        assume_new = False
        decision = apply_change(
            current, change, now=now, notify_discontinued=endpoint.sms.discontinuation_notice_enabled
        )
        if decision.outcome is not Outcome.APPLIED:
            return decision, etag or ""
        state = decision.appointment
        if is_over(state, policy.purge_grace, now):
            state = without_contact(state)
        elif state.status is Status.BOOKED and state.join_token is None:
            state = replace(state, join_token=new_token(geo))
        try:
            written = (
                store.create(endpoint.id, key, state) if etag is None else store.replace(endpoint.id, key, state, etag)
            )
        except (ConflictError, PreconditionFailedError):
            continue  # another message for this appointment won the race: decide again on its result
        return Decision(decision.outcome, state), written
    raise UpstreamError(f"Appointment of endpoint {endpoint.id} is contended; retrying later.", retryable=True)


def _queue_notice(
    decision: Decision,
    endpoint: Endpoint,
    directory: Directory,
    key: str,
    account: StorageAccount,
    store: AppointmentStore,
    etag: str,
    policy: NoticePolicy,
) -> None:
    state: Appointment = decision.appointment
    organisation = directory.get_organisation(endpoint.org_id)
    kind = decision.notice
    assert kind is not None
    job, why = sms_job_for(endpoint, organisation, key, state, kind, decision.notice_phone, policy)
    if job is None:
        logger.info("No %s SMS for endpoint %s: %s", kind, endpoint.id, why)
    else:
        enqueue_sms_job(account.queue(SMS_OUTBOUND_QUEUE), job)
    if state.notice_phone is not None:
        # A cancellation's number lived on only for its SMS: drop it now that the job is queued.
        try:
            store.replace(endpoint.id, key, replace(state, notice_phone=None), etag)
        except (ConflictError, PreconditionFailedError):
            logger.info("Appointment changed meanwhile; its next write drops the cancelled number")


def _read_payload(payload: Any, account: StorageAccount) -> tuple[str, str, str | None]:
    if not isinstance(payload, dict) or payload.get("v") != 1 or not isinstance(payload.get("endpoint"), str):
        raise InvalidMessageError(f"Not an {HL7_INBOUND_QUEUE} message (v1).")
    if isinstance(payload.get("body"), str):
        return payload["endpoint"], payload["body"], None
    if isinstance(payload.get("blob"), str):
        try:
            return (
                payload["endpoint"],
                account.container(OVERFLOW_CONTAINER).download(payload["blob"]).decode(),
                payload["blob"],
            )
        except NotFoundError as error:
            raise InvalidMessageError("The stored HL7 message is gone (processed already?).") from error
    raise InvalidMessageError(f"An {HL7_INBOUND_QUEUE} message carries neither body nor blob.")
