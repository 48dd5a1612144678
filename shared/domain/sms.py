"""An SMS to send, what sending it came to, and the `SmsSender` port that sends it.

Senders: `AcsSmsSender` (Azure Communication Services) in Azure, `OutboxSmsSender` (a JSON Lines
file) for local runs; bootstrap picks one from SMS_PROVIDER.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Repeatability:
    """ACS's repeatable-request fields for one SMS: the same pair on every try makes ACS send it once.

    Fixed per job (and per resend) and stored in the job log before the first try; see
    `shared.domain.sms_job` for how long ACS honours them.
    """

    request_id: str  # a UUID
    first_sent: datetime  # aware UTC: when the first try of this request id was made


@dataclass(frozen=True)
class OutboundSms:
    """One text to one number. `tag` (default: the deterministic job id) travels as the provider's tag,
    so a delivery report finds its job without naming the patient."""

    job_id: str
    from_number: str  # E.164: the number linked to the FHIR endpoint
    to_number: str  # E.164
    text: str
    tag: str = ""
    repeatability: Repeatability | None = None  # None: the sender makes up its own (the outbox needs none)

    @property
    def provider_tag(self) -> str:
        return self.tag or self.job_id


@dataclass(frozen=True)
class SmsReceipt:
    """The provider's answer for one SMS: accepted (with its message id) or refused for good.

    A refused SMS is a permanent failure to record, not to retry; `reason` is plain words without
    the number. Transient failures are not receipts: senders raise UpstreamError(retryable=True).
    """

    job_id: str
    accepted: bool
    message_id: str | None = None
    http_status: int | None = None
    reason: str | None = None


class SmsSender(Protocol):
    def send(self, sms: OutboundSms) -> SmsReceipt:
        """Send `sms` once. Raises UpstreamError(retryable=True, retry_after=...) when trying again later may work,
        SmsOutcomeUnknownError when the provider may have sent it but did not say so."""
        ...
