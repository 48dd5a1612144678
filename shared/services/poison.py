"""Poison messages: kept for an operator only as long as needed, then gone by themselves; listed and replayed.

Every message a queue function gives up on goes to `<queue>-poison` through `poison_message`, wrapped in
an envelope (`reason`, `at`, and the original `message`) and sent with a time-to-live: the queue service
deletes it when that runs out, so no timer reads the poison queues. The time-to-live is
`POISON_RETENTION_DAYS`, cut short at the purge time of the visit whose phone number the message carries
(an HL7 message's own start and duration, an SMS job's appointment); a message whose visit is already
past its purge is kept scrubbed (reason and ids, no body, no number), so the operator still sees it. The
blob of a message too large for its queue message goes at the same time (an `expiries` pointer).
The queue functions poison a message themselves on its last delivery (`maxDequeueCount`), so the host's
own poison move (which keeps the message for the storage default of 7 days) is left for messages that
crash the worker.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from shared.adapters.appointments import AppointmentStore
from shared.adapters.expiring import Expiries
from shared.adapters.storage import StorageAccount
from shared.domain.appointment import DEFAULT_DURATION_MINUTES, appointment_key
from shared.domain.config import Endpoint
from shared.domain.hl7_message import Hl7MessageError
from shared.domain.siu import parse_siu
from shared.domain.sms_job import SmsJob
from shared.errors import ConnectorError, InvalidMessageError, NotFoundError
from shared.queue_names import HL7_INBOUND_QUEUE, SMS_OUTBOUND_QUEUE
from shared.services.hl7_ingress import OVERFLOW_CONTAINER

logger = logging.getLogger(__name__)

POISON_SUFFIX = "-poison"
MAX_REASON = 200
SEARCH_LEASE_SECONDS = 60
_LONG_DIGITS = re.compile(r"\d[\d\s().+-]{5,}\d")


class Endpoints(Protocol):
    def get_endpoint(self, endpoint_id: str) -> Endpoint: ...


@dataclass(frozen=True)
class PoisonPolicy:
    retention: timedelta
    purge_grace: timedelta
    phone_region: str


@dataclass(frozen=True)
class PoisonMessage:
    """What an operator sees of one poison message: never its body."""

    queue: str
    message_id: str
    endpoint: str
    reason: str
    age: timedelta
    expires: datetime | None
    scrubbed: bool


def poison_message(
    account: StorageAccount,
    queue_name: str,
    payload: Any,
    reason: str,
    *,
    endpoints: Endpoints,
    policy: PoisonPolicy,
    now: datetime,
) -> None:
    """Send `payload` to `<queue_name>-poison` for as long as the retention and its purge allow."""
    keep_until = now + policy.retention
    purge = _purge_time(queue_name, payload, account, endpoints, policy, now)
    if purge is not None:
        keep_until = min(keep_until, purge)
    envelope: dict[str, Any] = {"poison": 1, "reason": safe_reason(reason), "at": now.isoformat()}
    blob = payload.get("blob") if queue_name == HL7_INBOUND_QUEUE and isinstance(payload, dict) else None
    if keep_until <= now:
        envelope.update(scrubbed=True, endpoint=_endpoint_of(payload))
        keep_until = now + policy.retention
        if isinstance(blob, str):
            account.container(OVERFLOW_CONTAINER).delete(blob)
    else:
        envelope["message"] = payload
        if isinstance(blob, str):
            Expiries(account).add_blob(OVERFLOW_CONTAINER, blob, keep_until)
    seconds = max(int((keep_until - now).total_seconds()), 1)
    account.queue(f"{queue_name}{POISON_SUFFIX}").send(envelope, time_to_live=seconds)


def list_poison(account: StorageAccount, queue_name: str, now: datetime) -> Iterator[PoisonMessage]:
    """The visible poison messages of one queue (a peek: at most 32, nothing changes)."""
    for message in account.queue(f"{queue_name}{POISON_SUFFIX}").peek():
        envelope = _envelope(message.content)
        inner = envelope.get("message")
        yield PoisonMessage(
            queue=queue_name,
            message_id=message.id,
            endpoint=str(envelope.get("endpoint") or _endpoint_of(inner)),
            reason=str(envelope.get("reason", "failed every delivery (see the function's log by message id)")),
            age=now - message.inserted_on if message.inserted_on else timedelta(0),
            expires=message.expires_on,
            scrubbed=bool(envelope.get("scrubbed")),
        )


def replay_poison(account: StorageAccount, queue_name: str, message_id: str) -> None:
    """Put one poison message's original back on `queue_name` and delete it from the poison queue.

    Raises NotFoundError when no visible poison message has that id, InvalidMessageError when it was
    scrubbed (nothing left to replay).
    """
    poison = account.queue(f"{queue_name}{POISON_SUFFIX}")
    passed_over = []  # invisible while we look further, visible again afterwards
    try:
        for message in poison.receive(SEARCH_LEASE_SECONDS):
            if message.id != message_id:
                passed_over.append(message)
                continue
            envelope = _envelope(message.content)
            if envelope.get("scrubbed"):
                passed_over.append(message)
                raise InvalidMessageError("This poison message was scrubbed: its visit is over, nothing to replay.")
            original = envelope["message"] if envelope.get("poison") == 1 else envelope
            account.queue(queue_name).send(original)
            poison.delete(message)
            logger.info("Poison message %s replayed onto %s", message_id, queue_name)
            return
    finally:
        for message in passed_over:
            poison.release(message)
    raise NotFoundError(f"No visible message {message_id} in {queue_name}{POISON_SUFFIX}.")


def safe_reason(reason: str) -> str:
    """A reason fit for a listing: one line, capped, long digit runs (a phone number?) masked."""
    line = " ".join(reason.split())
    return _LONG_DIGITS.sub("[digits]", line)[:MAX_REASON]


def _purge_time(
    queue_name: str, payload: Any, account: StorageAccount, endpoints: Endpoints, policy: PoisonPolicy, now: datetime
) -> datetime | None:
    """When the phone number the message carries is purged, where the message tells (else None)."""
    try:
        if queue_name == HL7_INBOUND_QUEUE and isinstance(payload, dict) and isinstance(payload.get("body"), str):
            endpoint = endpoints.get_endpoint(str(payload.get("endpoint")))
            event = parse_siu(payload["body"], local_tz=ZoneInfo(endpoint.time_zone), phone_region=policy.phone_region)
            if event.start is None:
                return None
            duration = timedelta(minutes=event.duration_minutes or DEFAULT_DURATION_MINUTES)
            return event.start + duration + policy.purge_grace
        if queue_name == SMS_OUTBOUND_QUEUE:
            job = SmsJob.from_message(payload)
            appointment, _ = AppointmentStore(account).find(job.endpoint_id, job.appointment_key)
            if appointment is None or appointment.phone is None or appointment.end is None:
                return now  # its number is purged already (or was never kept)
            return appointment.end + policy.purge_grace
    except (Hl7MessageError, ConnectorError):
        return None
    return None


def _endpoint_of(payload: Any) -> str:
    if isinstance(payload, dict):
        value = payload.get("endpoint") or payload.get("endpoint_id")
        if isinstance(value, str):
            return appointment_key(value)[:80]  # table-safe and short: never a body
    return "?"


def _envelope(content: str) -> dict[str, Any]:
    try:
        decoded = json.loads(content)
    except ValueError:
        return {}
    return decoded if isinstance(decoded, dict) else {}
