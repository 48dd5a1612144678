"""What ACS tells us after sending: delivery reports and inbound texts, read into typed values without I/O.

* The delivery tag: `v1|<geo>|<endpoint id>|<job id>`. ACS echoes the tag we send in the delivery report,
  so the one function app that receives every geography's reports finds the job with one point read in
  the right account. It names no patient (endpoint and job ids are ours).
* Delivery outcomes: `delivered`, or a not-delivered reason read from `deliveryStatusDetails`.
* Inbound keywords: STOP and START with their usual synonyms (CTIA / carrier conventions).
* The opt-out key: HMAC-SHA256 over (our number, patient number), so the opt-out list never holds a
  number in clear and cannot be reversed by hashing every possible number without the key.

Event data is read as ACS publishes it (https://learn.microsoft.com/azure/event-grid/communication-services-telephony-sms-events):
the documented examples spell the data's keys both camelCase (`tag`, `from`) and PascalCase (`Tag`,
`From`), and write `from` without its `+` (`"from": "15555555555"`), so keys are read case-insensitively
and both numbers are normalised to E.164 before anything is looked up by them.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from shared.domain.phone import international_to_e164
from shared.errors import InvalidMessageError

TAG_VERSION = "v1"
DELIVERY_REPORT_EVENT = "Microsoft.Communication.SMSDeliveryReportReceived"
SMS_RECEIVED_EVENT = "Microsoft.Communication.SMSReceived"


def delivery_tag(geo: str, endpoint_id: str, job_id: str) -> str:
    return f"{TAG_VERSION}|{geo}|{endpoint_id}|{job_id}"


@dataclass(frozen=True)
class TagRef:
    """Where a job lives, from its delivery tag."""

    geo: str
    endpoint_id: str
    job_id: str


def parse_delivery_tag(tag: Any) -> TagRef:
    """Raises InvalidMessageError for a tag we did not write (e.g. sent before tags carried the route)."""
    parts = tag.split("|") if isinstance(tag, str) else []
    if len(parts) != 4 or parts[0] != TAG_VERSION or not all(parts[1:]):
        raise InvalidMessageError("The delivery report's tag is not one of ours.")
    return TagRef(parts[1], parts[2], parts[3])


class Delivery(StrEnum):
    DELIVERED = "delivered"
    OPTED_OUT = "opted_out"
    INVALID_NUMBER = "invalid_number"
    UNREACHABLE = "unreachable"
    BLOCKED = "blocked"
    SPAM = "spam"
    OTHER = "other"


# ACS publishes deliveryStatusDetails as free text from the carrier path, not as codes; these words are
# what distinguishes the reasons staff act on differently. First match wins (an "opted out" text may
# also say "blocked").
_REASON_WORDS: tuple[tuple[Delivery, tuple[str, ...]], ...] = (
    (Delivery.OPTED_OUT, ("opt", "unsubscrib", "stop")),
    (Delivery.SPAM, ("spam",)),
    (Delivery.INVALID_NUMBER, ("invalid", "not a valid", "unknown subscriber", "unallocated", "landline")),
    (Delivery.BLOCKED, ("block", "barred", "reject", "filter")),
    (Delivery.UNREACHABLE, ("unreachable", "absent", "switched off", "expired", "timeout", "timed out", "handset")),
)


def classify_delivery(status: str, details: str) -> Delivery:
    """`delivered` for a Delivered status, else the reason its details name (`other` when none)."""
    if status.strip().lower() == "delivered":
        return Delivery.DELIVERED
    lowered = details.lower()
    return next((reason for reason, words in _REASON_WORDS if any(w in lowered for w in words)), Delivery.OTHER)


@dataclass(frozen=True)
class DeliveryReport:
    ref: TagRef
    message_id: str
    outcome: Delivery
    received_at: datetime


def parse_delivery_report(data: Any) -> DeliveryReport:
    """The report in an SMSDeliveryReportReceived event's data. Raises InvalidMessageError."""
    if not isinstance(data, dict):
        raise InvalidMessageError("The delivery report has no data object.")
    data = _case_insensitive(data)
    return DeliveryReport(
        ref=parse_delivery_tag(data.get("tag")),
        message_id=str(data.get("messageid") or ""),
        outcome=classify_delivery(str(data.get("deliverystatus") or ""), str(data.get("deliverystatusdetails") or "")),
        received_at=_timestamp(data.get("receivedtimestamp")),
    )


class Keyword(StrEnum):
    STOP = "stop"
    START = "start"


STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})
START_WORDS = frozenset({"START", "UNSTOP", "YES", "SUBSCRIBE", "OPTIN", "RESUME"})


def keyword_of(text: str) -> Keyword | None:
    """STOP or START when the whole text is one of their words (any case, punctuation ignored), else None.

    Only a text that is just the keyword counts: "stop by at 3?" is a conversation, not an opt-out.
    """
    word = "".join(ch for ch in text.upper() if ch.isalnum())
    if word in STOP_WORDS:
        return Keyword.STOP
    if word in START_WORDS:
        return Keyword.START
    return None


@dataclass(frozen=True)
class InboundSms:
    from_number: str  # the patient
    to_number: str  # ours
    keyword: Keyword | None
    received_at: datetime


def parse_inbound_sms(data: Any) -> InboundSms:
    """The text in an SMSReceived event's data, its numbers in E.164. Raises InvalidMessageError."""
    if not isinstance(data, dict):
        raise InvalidMessageError("The inbound SMS event has no data object.")
    data = _case_insensitive(data)
    from_number = international_to_e164(str(data.get("from") or ""))
    to_number = international_to_e164(str(data.get("to") or ""))
    if from_number is None or to_number is None:
        raise InvalidMessageError("The inbound SMS event lacks from or to, or one is not an international number.")
    return InboundSms(
        from_number=from_number,
        to_number=to_number,
        keyword=keyword_of(str(data.get("message") or "")),
        received_at=_timestamp(data.get("receivedtimestamp")),
    )


def _case_insensitive(data: dict[str, Any]) -> dict[str, Any]:
    """The event data with lower-case keys (ACS's examples use both spellings)."""
    return {str(key).lower(): value for key, value in data.items()}


def opt_out_key(secret: bytes, our_number: str, patient_number: str) -> str:
    """The opt-out list's key for a (sending number, patient number) pair: hex HMAC-SHA256."""
    return hmac.new(secret, f"{our_number}|{patient_number}".encode(), hashlib.sha256).hexdigest()


def _timestamp(value: Any) -> datetime:
    """An ISO 8601 event time as aware UTC. Raises InvalidMessageError."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidMessageError("The event's receivedTimestamp is not an ISO 8601 time.") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
