"""The EHR write-back port, the per-endpoint switch, and the queue step that delivers visit events and SMS
failures through it.

Only endpoints whose admin turned `ehr_write_back` on hear anything. Events reach the EHR from a
geography's `ehr-writeback` queue, never inline: the webhook or event handler that learnt the fact
answers at once, and a failing EHR is retried by the queue host (then kept in `ehr-writeback-poison`
for replay) without holding anyone up.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Protocol

from shared.adapters.storage import StorageAccount
from shared.domain.appointment import appointment_key
from shared.domain.config import Endpoint
from shared.domain.device_test import DeviceTestResult
from shared.domain.ehr_events import EhrEvent, EhrEventKind
from shared.errors import ConnectorError, NotFoundError
from shared.queue_names import EHR_WRITEBACK_QUEUE

logger = logging.getLogger(__name__)


class EhrWriteBack(Protocol):
    """Writes what happened back to the endpoint's EHR. Implementations raise UpstreamError (retryable or not)."""

    def write_device_test(self, endpoint_id: str, result_id: str, result: DeviceTestResult) -> None: ...

    def write_event(self, event: EhrEvent) -> None: ...


class EndpointDirectory(Protocol):
    def get_endpoint(self, endpoint_id: str) -> Endpoint: ...


def writes_back(directory: EndpointDirectory, endpoint_id: str) -> bool:
    """Whether the endpoint enables EHR write-back; False for an endpoint removed since the fact happened.
    Raises UpstreamError."""
    try:
        return directory.get_endpoint(endpoint_id).ehr_write_back
    except NotFoundError:
        return False


def queue_ehr_event(directory: EndpointDirectory, account: StorageAccount, event: EhrEvent) -> bool:
    """Queue `event` on the `ehr-writeback` queue of `account` (the event's geography) if its endpoint
    enables write-back; returns whether it did. Raises UpstreamError."""
    if not writes_back(directory, event.endpoint_id):
        return False
    account.queue(EHR_WRITEBACK_QUEUE).send(event.to_message())
    logger.info("EHR event %s (%s) queued for endpoint %s", event.event_id, event.kind, event.endpoint_id)
    return True


def note_patient_waiting(
    directory: EndpointDirectory, account: StorageAccount, geo: str, endpoint_id: str, visit_id: str, at: datetime
) -> None:
    """Tell the EHR (queued, if the endpoint writes back) that the patient opened the visit and waits in the
    lobby. Never raises: the patient on their way into the visit matters more than the status."""
    event = EhrEvent(geo, endpoint_id, appointment_key(visit_id), EhrEventKind.PATIENT_WAITING, at)
    try:
        queue_ehr_event(directory, account, event)
    except ConnectorError as error:
        logger.warning("Patient waiting not queued for endpoint %s: %s", endpoint_id, error.code)


def deliver_ehr_event(event: EhrEvent, write_back: EhrWriteBack) -> str:
    """Write `event` back. Raises UpstreamError: a retryable one makes the queue host try again."""
    write_back.write_event(event)
    logger.info("EHR event %s (%s) written back for endpoint %s", event.event_id, event.kind, event.endpoint_id)
    return f"{event.kind} written back"
