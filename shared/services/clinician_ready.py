""" "Your clinician is ready": when the provider launches a visit the patient has not joined, one SMS with the link.

Health systems that text the patient at that moment (instead of leaving the provider in a silent meeting) see
most patients join early. The SMS goes through the one exactly-once path (`shared.services.sms_jobs`): its job
id is the visit's, whatever the reschedules (`READY_VERSION`), so however many times the provider launches, or a
launch is retried, the patient gets it once; opted-out numbers get nothing (the send step checks). Nothing here
stops a provider's launch: every refusal is a reason for the log. A provider who opens the meeting before the
patient's link does (the endpoint's `join_opens_minutes`) or after the visit's end texts nobody.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Protocol

from shared.adapters.appointments import AppointmentStore
from shared.adapters.storage import Storage
from shared.adapters.visit_log import VisitLog
from shared.domain.appointment import appointment_key
from shared.domain.config import Endpoint, Organisation
from shared.domain.sms_text import SmsKind
from shared.errors import ConnectorError
from shared.queue_names import SMS_OUTBOUND_QUEUE
from shared.services.notices import NoticePolicy, sms_job_for
from shared.services.sms_jobs import enqueue_sms_job

logger = logging.getLogger(__name__)


class Organisations(Protocol):
    def get_organisation(self, org_id: str) -> Organisation: ...


def text_clinician_ready(
    endpoint: Endpoint,
    organisations: Organisations,
    storage: Storage,
    visits: VisitLog,
    policy: NoticePolicy,
    *,
    visit_id: str,
    scheduled_start: datetime,
    now: datetime,
) -> str:
    """Queue the ready SMS for the visit the provider just launched, or say why not. Never raises."""
    if not endpoint.sms.clinician_ready_enabled:
        return "switched off for the endpoint"
    try:
        return _queue(endpoint, organisations, storage, visits, policy, visit_id, scheduled_start, now)
    except ConnectorError as error:
        logger.warning("Ready SMS for endpoint %s not queued: %s", endpoint.id, error.code)
        return f"not queued ({error.code})"


def _queue(
    endpoint: Endpoint,
    organisations: Organisations,
    storage: Storage,
    visits: VisitLog,
    policy: NoticePolicy,
    visit_id: str,
    scheduled_start: datetime,
    now: datetime,
) -> str:
    account = storage.for_geo(endpoint.geo)
    key = appointment_key(visit_id)
    appointment, _ = AppointmentStore(account).find(endpoint.id, key)
    if appointment is None or not appointment.open:
        return "no booked appointment from a scheduling message"
    if appointment.start is None or appointment.end is None or appointment.end <= now:
        return "the visit is over"
    if now < appointment.start - timedelta(minutes=endpoint.sms.join_opens_minutes):
        return "too early: the link does not open the meeting yet"
    if visits.patient_joined(endpoint.geo, endpoint_id=endpoint.id, visit_id=visit_id, scheduled_start=scheduled_start):
        return "the patient has joined already"
    organisation = organisations.get_organisation(endpoint.org_id)
    job, why = sms_job_for(endpoint, organisation, key, appointment, SmsKind.READY, appointment.phone, policy)
    if job is None:
        return why
    enqueue_sms_job(account.queue(SMS_OUTBOUND_QUEUE), job)
    return "queued"
