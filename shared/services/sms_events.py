"""What ACS tells us after sending, applied: delivery reports update the SMS job, STOP and START the opt-out list.

One function app receives the events of every geography. A delivery report carries our tag, which names
the job's geography and endpoint (one point read in that account); an undelivered confirmation or
reminder is queued for the EHR write-back there when the endpoint enables it. An inbound text names only
the two numbers: our number leads to its organisation (the config store's number index) and so to the
geography whose opt-out list it changes. Texts that are not STOP or START are ignored (nobody reads
replies to this number).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from shared.adapters.opt_outs import OptOutList
from shared.adapters.sms_jobs import JobLog
from shared.adapters.storage import Storage
from shared.domain.config import Endpoint, Organisation
from shared.domain.ehr_events import EhrEvent, EhrEventKind
from shared.domain.sms_delivery import (
    DELIVERY_REPORT_EVENT,
    SMS_RECEIVED_EVENT,
    Delivery,
    Keyword,
    parse_delivery_report,
    parse_inbound_sms,
)
from shared.errors import NotFoundError, SettingsError
from shared.services.ehr_write_back import queue_ehr_event

logger = logging.getLogger(__name__)


class NumberDirectory(Protocol):
    """Config reads this service needs (the ConfigStore)."""

    def get_phone_number_owner(self, number: str) -> str: ...

    def get_organisation(self, org_id: str) -> Organisation: ...

    def get_endpoint(self, endpoint_id: str) -> Endpoint: ...


@dataclass(frozen=True)
class AcsEventContext:
    storage: Storage
    directory: NumberDirectory
    opt_out_key: bytes
    now: datetime


def handle_acs_event(event_type: str, data: Any, context: AcsEventContext) -> str:
    """Apply one ACS event; returns what it came to (for the log, without patient data).

    Raises InvalidMessageError (malformed: Event Grid should not retry), UpstreamError (retryable: a storage
    failure, or a report for a job whose send is not recorded yet), PreconditionFailedError (a race: retry).
    """
    if event_type == DELIVERY_REPORT_EVENT:
        return apply_delivery_report(data, context)
    if event_type == SMS_RECEIVED_EVENT:
        return apply_inbound_sms(data, context)
    return f"ignored event type {event_type}"


def apply_delivery_report(data: Any, context: AcsEventContext) -> str:
    report = parse_delivery_report(data)
    ref = report.ref
    try:
        account = context.storage.for_geo(ref.geo)
    except SettingsError:
        return f"report for geography {ref.geo} not served here; ignored"
    try:
        job = JobLog(account).record_delivery(report, context.now)
    except NotFoundError:
        logger.warning("Delivery report for unknown SMS job %s; ignored", ref.job_id)
        return "unknown job"
    if job is None:
        return f"job {ref.job_id}: duplicate or older report"
    logger.info("SMS job %s delivery: %s", ref.job_id, report.outcome)
    if report.outcome is not Delivery.DELIVERED:
        event = EhrEvent(
            geo=ref.geo,
            endpoint_id=ref.endpoint_id,
            appointment_key=job["AppointmentKey"],
            kind=EhrEventKind.SMS_UNDELIVERED,
            occurred_at=report.received_at,
            detail=f"{job['Kind']}: {report.outcome}",
        )
        if queue_ehr_event(context.directory, account, event):
            logger.info("SMS job %s: undelivered, EHR write-back queued", ref.job_id)
    return f"job {ref.job_id}: {report.outcome}"


def apply_inbound_sms(data: Any, context: AcsEventContext) -> str:
    text = parse_inbound_sms(data)
    if text.keyword is None:
        return "inbound text without a keyword; ignored"
    try:
        org = context.directory.get_organisation(context.directory.get_phone_number_owner(text.to_number))
    except NotFoundError:
        logger.warning("Inbound %s to a number no organisation holds; ignored", text.keyword)
        return "number not ours"
    opt_outs = OptOutList(context.storage.for_geo(org.geo), context.opt_out_key)
    changed = opt_outs.set_opted_out(text.to_number, text.from_number, text.keyword is Keyword.STOP, text.received_at)
    logger.info("Inbound %s for organisation %s: %s", text.keyword, org.id, "applied" if changed else "older; ignored")
    return f"{text.keyword} {'applied' if changed else 'older than the recorded one'}"
