"""Where SMS sender numbers come from: Azure Communication Services (search, then purchase), or a sandbox.

Buying a number is a long-running operation (seconds to minutes) on the ACS side; callers run it
from a queue-triggered function, never inside an HTTP request. Each of its two ACS operations (search,
purchase) is saved as soon as it is started (the SDK poller's `continuation_token`, through
`OrderProgress`), and a retry resumes a saved one instead of starting it again: a failure while polling a
purchase that ACS carried out never leads to a second search and a second number.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any, Protocol

from shared.adapters.acs import acs_client
from shared.errors import UpstreamError
from shared.settings import AcsConnection

logger = logging.getLogger(__name__)

POLLING_INTERVAL_SECONDS = 5


class OrderProgress(Protocol):
    """Where one order's provider operations stand, kept with the order so that a retry resumes them."""

    def get(self, step: str) -> str | None: ...

    def save(self, step: str, token: str) -> None:
        """Record that `step` was started (`token` resumes it). Raises UpstreamError when storage fails."""
        ...


class PhoneNumberProvider(Protocol):
    name: str
    verification_required: bool
    """Whether carriers deliver its numbers' SMS only after toll-free verification."""
    sms_geographies: frozenset[str] | None
    """The geographies whose patients its numbers can text (None: every one)."""

    def purchase_number(self, country_code: str, progress: OrderProgress) -> str:
        """Buy one SMS-capable number, resuming what `progress` says was started; returns it in E.164.
        Raises UpstreamError."""
        ...


class SandboxPhoneNumberProvider:
    """Made-up +1 555 numbers (the fictional exchange), for local runs: nothing is bought."""

    name = "sandbox"
    verification_required = False
    sms_geographies = None  # made-up numbers, written to the outbox

    def purchase_number(self, country_code: str, progress: OrderProgress) -> str:
        return f"+1555{secrets.randbelow(10**7):07d}"


class AcsPhoneNumberProvider:
    """Toll-free, SMS-capable numbers bought through ACS with the real phone-numbers SDK."""

    name = "acs"
    verification_required = True  # it buys toll-free numbers
    sms_geographies = frozenset({"US"})  # toll-free SMS reach only the US, CA and PR (ACS SMS FAQ)

    def __init__(
        self, connection: AcsConnection, *, polling_interval: float = POLLING_INTERVAL_SECONDS, **client_options: Any
    ) -> None:
        self._connection = connection
        self._polling_interval = polling_interval
        self._options = client_options

    def purchase_number(self, country_code: str, progress: OrderProgress) -> str:
        from azure.communication.phonenumbers import (
            PhoneNumberAssignmentType,
            PhoneNumberCapabilities,
            PhoneNumberCapabilityType,
            PhoneNumbersClient,
            PhoneNumberType,
        )
        from azure.core.exceptions import AzureError, HttpResponseError

        client = acs_client(PhoneNumbersClient, self._connection, **self._options)
        try:
            search = _resume_or_begin(
                progress,
                "search",
                lambda **resume: client.begin_search_available_phone_numbers(
                    country_code,
                    PhoneNumberType.TOLL_FREE,
                    PhoneNumberAssignmentType.APPLICATION,
                    PhoneNumberCapabilities(
                        calling=PhoneNumberCapabilityType.NONE, sms=PhoneNumberCapabilityType.INBOUND_OUTBOUND
                    ),
                    quantity=1,
                    polling_interval=self._polling_interval,
                    **resume,
                ),
            ).result()
            if not search.phone_numbers:
                raise UpstreamError(f"ACS has no SMS number available in {country_code}.", retryable=False)
            _resume_or_begin(
                progress,
                "purchase",
                lambda **resume: client.begin_purchase_phone_numbers(
                    search.search_id, agree_to_not_resell=True, polling_interval=self._polling_interval, **resume
                ),
            ).result()
        except HttpResponseError as exc:
            status = exc.status_code or 0
            retryable = status in (408, 429) or status >= 500
            raise UpstreamError(f"ACS refused the number order ({status}).", retryable=retryable) from exc
        except AzureError as exc:
            raise UpstreamError("ACS could not be reached for the number order.", retryable=True) from exc
        return search.phone_numbers[0]


def _resume_or_begin(progress: OrderProgress, step: str, begin: Callable[..., Any]) -> Any:
    """The SDK poller of `step`: resumed from its saved continuation token, or begun and saved at once."""
    token = progress.get(step)
    if token:
        logger.info("Number order: resuming the %s operation", step)
        return begin(continuation_token=token)
    poller = begin()
    progress.save(step, poller.continuation_token())
    return poller
