"""The EHR write-back port, and the queue step that delivers visit events and SMS failures through it.

Events reach the EHR from a geography's `ehr-writeback` queue, never inline: the webhook or event
handler that learnt the fact answers at once, and a failing EHR is retried by the queue host (then kept
in `ehr-writeback-poison` for replay) without holding anyone up.
"""

from __future__ import annotations

import logging
from typing import Protocol

from shared.domain.device_test import DeviceTestResult
from shared.domain.ehr_events import EhrEvent

logger = logging.getLogger(__name__)


class EhrWriteBack(Protocol):
    """Writes what happened back to the endpoint's EHR. Implementations raise UpstreamError (retryable or not)."""

    def write_device_test(self, endpoint_id: str, result_id: str, result: DeviceTestResult) -> None: ...

    def write_event(self, event: EhrEvent) -> None: ...


def deliver_ehr_event(event: EhrEvent, write_back: EhrWriteBack) -> str:
    """Write `event` back. Raises UpstreamError: a retryable one makes the queue host try again."""
    write_back.write_event(event)
    logger.info("EHR event %s (%s) written back for endpoint %s", event.event_id, event.kind, event.endpoint_id)
    return f"{event.kind} written back"
