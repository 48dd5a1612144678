"""`AcsSmsSender`: sends SMS through Azure Communication Services and translates its answers.

Per SMS: from the endpoint's linked number, delivery reports on, tagged with `sms.provider_tag` (the
job's route and id, never the patient). Outcomes:

* accepted (202, recipient `successful`) -> SmsReceipt(accepted=True, message_id=ACS message id);
* throttled (429, whole request or recipient) -> UpstreamError(retryable=True, retry_after=Retry-After);
* 5xx, 408, connection failures -> UpstreamError(retryable=True);
* a timeout after the request went out -> SmsOutcomeUnknownError(repeatable=True): ACS may have sent it;
* 412 (a repeat first sent outside ACS's 5-minute repeatability window) -> SmsOutcomeUnknownError(repeatable=False);
* 401/403 -> UpstreamError(retryable=True): a key or role problem that an operator fixes; the queue
  host retries, then keeps the message in `-poison` for replay instead of dropping the patient's SMS;
* any other refusal (400, 404, 422, a recipient refused) -> SmsReceipt(accepted=False): permanent.

The SDK's retry policy is replaced by `BriefRetryPolicy`: the stock one waits out a 429's Retry-After
(minutes) inside the invocation and hides it from us; ours retries only brief server failures.

Repeatability: `SmsClient.send` (azure-communication-sms 1.1.0, `_sms_client.py`) puts a fresh
`repeatabilityRequestId` (uuid4) and `repeatabilityFirstSent` (now) on every recipient and has no parameter
for them. `RepeatabilityPolicy`, a per-call pipeline policy (it runs before the retry and HMAC policies,
so the signed body is the rewritten one), replaces the pair with the job's own (`OutboundSms.repeatability`),
handed over in a context variable for the one call.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError, ServiceRequestError, ServiceResponseError
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import RetryPolicy, SansIOHTTPPolicy

from shared.adapters.acs import acs_client
from shared.domain.sms import OutboundSms, Repeatability, SmsReceipt
from shared.errors import SmsOutcomeUnknownError, UpstreamError
from shared.settings import AcsConnection

logger = logging.getLogger(__name__)

MAX_INLINE_WAIT_SECONDS = 5.0
"""Longest pause the SDK may take inside one invocation; anything longer goes back to the queue."""
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
REPEAT_OUTSIDE_WINDOW = 412

_repeatability: ContextVar[Repeatability | None] = ContextVar("acs_sms_repeatability", default=None)


class RepeatabilityPolicy(SansIOHTTPPolicy):  # type: ignore[type-arg]
    """Puts the job's repeatability pair on every recipient of the one send this context variable is set for."""

    def on_request(self, request: PipelineRequest) -> None:  # type: ignore[type-arg]
        pair = _repeatability.get()
        if pair is None:
            return
        body = json.loads(request.http_request.body)
        for recipient in body["smsRecipients"]:
            recipient["repeatabilityRequestId"] = pair.request_id
            recipient["repeatabilityFirstSent"] = format_datetime(pair.first_sent.astimezone(UTC), usegmt=True)
        request.http_request.set_json_body(body)


class BriefRetryPolicy(RetryPolicy):
    """azure-core's RetryPolicy, minus waiting out throttling: at most two quick retries of 5xx and connection errors.

    Retries within one `send` reuse the SDK's repeatability id, so ACS does not send twice.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs = {"retry_total": 2, "retry_backoff_factor": 0.5, "retry_backoff_max": 2, "timeout": 60, **kwargs}
        super().__init__(**kwargs)

    def is_retry(self, settings: dict[str, Any], response: Any) -> bool:
        if response.http_response.status_code == 429:
            return False
        retry_after = self.get_retry_after(response)
        if retry_after is not None and retry_after > MAX_INLINE_WAIT_SECONDS:
            return False
        return super().is_retry(settings, response)


class AcsSmsSender:
    """SMS through ACS, with the client built on first send (azure-communication-sms loads only then)."""

    def __init__(self, connection: AcsConnection, **client_options: Any) -> None:
        """`client_options` go to the SmsClient (tests pass `connection_verify=` for a stand-in's certificate)."""
        self._connection = connection
        self._client_options = client_options
        self._client: Any = None

    def _sms_client(self) -> Any:
        if self._client is None:
            from azure.communication.sms import SmsClient

            options = {
                "retry_policy": BriefRetryPolicy(),
                "per_call_policies": [RepeatabilityPolicy()],
                **self._client_options,
            }
            self._client = acs_client(SmsClient, self._connection, **options)
        return self._client

    def send(self, sms: OutboundSms) -> SmsReceipt:
        """Send `sms`; see the module docstring for outcomes. Raises UpstreamError for transient failures."""
        client = self._sms_client()
        token = _repeatability.set(sms.repeatability)
        try:
            [result] = client.send(
                from_=sms.from_number,
                to=[sms.to_number],
                message=sms.text,
                enable_delivery_report=True,
                tag=sms.provider_tag,
            )
        except HttpResponseError as exc:
            return _refused(sms, exc)
        except ServiceRequestError as exc:
            logger.warning("SMS job %s: ACS unreachable (%s)", sms.job_id, type(exc).__name__)
            raise UpstreamError("ACS SMS could not be reached", retryable=True) from exc
        except ServiceResponseError as exc:
            logger.warning("SMS job %s: ACS did not answer in time (%s)", sms.job_id, type(exc).__name__)
            raise SmsOutcomeUnknownError("ACS SMS did not answer in time", repeatable=True) from exc
        except AzureError as exc:
            logger.warning("SMS job %s: ACS SMS failed (%s)", sms.job_id, type(exc).__name__)
            raise UpstreamError("ACS SMS failed", retryable=True) from exc
        finally:
            _repeatability.reset(token)
        status = result.http_status_code
        if status == REPEAT_OUTSIDE_WINDOW:
            raise _outside_window(sms)
        if result.successful:
            logger.info("SMS job %s accepted by ACS as message %s", sms.job_id, result.message_id)
            return SmsReceipt(sms.job_id, accepted=True, message_id=result.message_id, http_status=status)
        if status in RETRYABLE_STATUSES:
            logger.warning("SMS job %s: ACS answered %s for the recipient; will retry", sms.job_id, status)
            raise UpstreamError(f"ACS SMS answered {status} for the recipient", retryable=True)
        reason = f"ACS refused the recipient ({status}): {_scrub(result.error_message)}"
        logger.warning("SMS job %s: %s", sms.job_id, reason)
        return SmsReceipt(sms.job_id, accepted=False, message_id=result.message_id, http_status=status, reason=reason)


def _refused(sms: OutboundSms, exc: HttpResponseError) -> SmsReceipt:
    """A whole-request error status: raise the transient ones, return the permanent ones as a receipt."""
    status = exc.status_code
    headers = exc.response.headers if exc.response is not None else {}
    if status == REPEAT_OUTSIDE_WINDOW:
        raise _outside_window(sms) from exc
    if status in RETRYABLE_STATUSES:
        retry_after = retry_after_seconds(headers)
        logger.warning("SMS job %s: ACS answered %s (retry after %s s)", sms.job_id, status, retry_after)
        raise UpstreamError(f"ACS SMS answered {status}", retryable=True, retry_after=retry_after) from exc
    if status in (401, 403):
        logger.warning("SMS job %s: ACS refused our credentials (%s)", sms.job_id, status)
        raise UpstreamError(
            f"ACS SMS refused our credentials ({status}): check ACS_CONNECTION_STRING, or the app identity's "
            "role on the ACS resource",
            retryable=True,
        ) from exc
    reason = f"ACS refused the request ({status})"
    logger.warning("SMS job %s: %s", sms.job_id, reason)
    return SmsReceipt(sms.job_id, accepted=False, http_status=status, reason=reason)


def _outside_window(sms: OutboundSms) -> SmsOutcomeUnknownError:
    logger.warning("SMS job %s: ACS no longer tracks its request (412); whether it went out is unknown", sms.job_id)
    message = "ACS no longer tracks the request (412, outside its repeatability window)"
    return SmsOutcomeUnknownError(message, repeatable=False)


def retry_after_seconds(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, `x-ms-retry-after-ms` or `Retry-After` (seconds or an HTTP date)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        try:
            return max(float(lowered[name]) / 1000, 0.0)
        except (KeyError, ValueError):
            pass
    text = lowered.get("retry-after", "").strip()
    if not text:
        return None
    try:
        return max(float(text), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def _scrub(text: str | None) -> str:
    """ACS error text without anything that looks like a phone number."""
    return re.sub(r"\+?\d[\d\s().-]{4,}\d", "[number]", text or "no detail")
