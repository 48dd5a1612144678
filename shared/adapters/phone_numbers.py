"""Where SMS sender numbers come from: Azure Communication Services (search, then purchase), or a sandbox.

Buying a number is a long-running operation (seconds to minutes) on the ACS side; callers run it
from a queue-triggered function, never inside an HTTP request.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any, Protocol

from shared.adapters.acs import acs_client
from shared.errors import UpstreamError
from shared.settings import AcsConnection

logger = logging.getLogger(__name__)

POLLING_INTERVAL_SECONDS = 5


class PhoneNumberProvider(Protocol):
    name: str

    def purchase_number(self, country_code: str) -> str:
        """Buy one SMS-capable number; returns it in E.164. Raises UpstreamError."""
        ...


class SandboxPhoneNumberProvider:
    """Made-up +1 555 numbers (the fictional exchange), for local runs: nothing is bought."""

    name = "sandbox"

    def purchase_number(self, country_code: str) -> str:
        return f"+1555{secrets.randbelow(10**7):07d}"


class AcsPhoneNumberProvider:
    """Toll-free, SMS-capable numbers bought through ACS with the real phone-numbers SDK."""

    name = "acs"

    def __init__(
        self, connection: AcsConnection, *, polling_interval: float = POLLING_INTERVAL_SECONDS, **client_options: Any
    ) -> None:
        self._connection = connection
        self._polling_interval = polling_interval
        self._options = client_options

    def purchase_number(self, country_code: str) -> str:
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
            search = client.begin_search_available_phone_numbers(
                country_code,
                PhoneNumberType.TOLL_FREE,
                PhoneNumberAssignmentType.APPLICATION,
                PhoneNumberCapabilities(
                    calling=PhoneNumberCapabilityType.NONE, sms=PhoneNumberCapabilityType.INBOUND_OUTBOUND
                ),
                quantity=1,
                polling_interval=self._polling_interval,
            ).result()
            if not search.phone_numbers:
                raise UpstreamError(f"ACS has no SMS number available in {country_code}.", retryable=False)
            client.begin_purchase_phone_numbers(
                search.search_id,
                agree_to_not_resell=True,
                polling_interval=self._polling_interval,
            ).result()
        except HttpResponseError as exc:
            status = exc.status_code or 0
            retryable = status in (408, 429) or status >= 500
            raise UpstreamError(f"ACS refused the number order ({status}).", retryable=retryable) from exc
        except AzureError as exc:
            raise UpstreamError("ACS could not be reached for the number order.", retryable=True) from exc
        return search.phone_numbers[0]
