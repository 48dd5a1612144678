"""Phone numbers of an organisation: order one (asynchronous), fulfil the order, list them, record verification.

The order is answered at once with an operation the caller polls; a queue-triggered function does
the slow purchase and records the outcome on the operation.

Numbers that can text: the connector buys toll-free numbers, and ACS documents that toll-free numbers
send and receive SMS only to and from the US, Canada and Puerto Rico
(https://learn.microsoft.com/azure/communication-services/concepts/sms/sms-faq), so only organisations
of the US geography may order them from ACS (`AcsPhoneNumberProvider.sms_geographies`; the sandbox's
made-up numbers serve every geography), and only the types and countries of `ORDERABLE`.

Since January 31, 2024 carriers block SMS from toll-free numbers that have not passed toll-free
verification (same page), which is filed in the Azure portal and which neither the SMS nor the
phone-numbers API reports: a bought toll-free number is `pending_verification` until an admin records
that it is `verified`.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any

from shared.adapters.config_store import ConfigStore, Operation, PhoneNumber, new_id
from shared.adapters.phone_numbers import PhoneNumberProvider
from shared.adapters.storage import Queue
from shared.domain.access import Caller, require_admin
from shared.domain.config import NumberVerification
from shared.domain.phone import international_to_e164
from shared.errors import ConflictError, InvalidMessageError, InvalidRequestError, NotFoundError, UpstreamError
from shared.services.config_changes import ReadBody, record_change, refuse_unknown_fields
from shared.services.tenancy import read_own_organisation

logger = logging.getLogger(__name__)

ORDER_KIND = "phone_number_order"
TOLL_FREE = "toll_free"
ORDERABLE: dict[str, tuple[str, ...]] = {TOLL_FREE: ("US", "CA")}
"""The number types the connector orders, and the countries it orders each in."""


def order_phone_number(
    store: ConfigStore,
    orders: Queue,
    provider: PhoneNumberProvider,
    caller: Caller,
    org_id: str,
    read_body: ReadBody,
    now: datetime,
) -> Operation:
    """Queue the purchase of a number. Raises ForbiddenError, NotFoundError, InvalidRequestError (a type or
    country that cannot text the organisation's geography), ConflictError (SMS consents missing)."""
    require_admin(caller)
    org = read_own_organisation(store, caller, org_id).value
    document = read_body()
    refuse_unknown_fields(document, {"country_code", "number_type"})
    country, number_type = _orderable(
        provider, org.geo, document.get("country_code", "US"), document.get("number_type", TOLL_FREE)
    )
    if not org.sms_consented:
        raise ConflictError("Both SMS consents of the organisation are needed before numbers can be ordered.")
    result = {"country_code": country, "number_type": number_type}
    operation = Operation(new_id("op"), org.id, ORDER_KIND, "running", now, result)
    store.create_operation(operation)
    orders.send({"operation_id": operation.id})
    record_change(store, caller, org.id, "phone_number.ordered", operation.id, now, **result)
    logger.info("Phone number order %s queued", operation.id)
    return operation


def _orderable(provider: PhoneNumberProvider, geo: str, country: object, number_type: object) -> tuple[str, str]:
    """The (country, number type) of an order whose SMS can reach the geography. Raises InvalidRequestError."""
    if provider.sms_geographies is not None and geo not in provider.sms_geographies:
        raise InvalidRequestError(
            f"No number type the connector orders can text patients in the {geo} geography: toll-free numbers "
            "reach only the US, Canada and Puerto Rico. Use a sender your ACS resource holds for that geography."
        )
    if not isinstance(number_type, str) or number_type not in ORDERABLE:
        raise InvalidRequestError(f"number_type must be one of {', '.join(ORDERABLE)}.")
    countries = ORDERABLE[number_type]
    if not isinstance(country, str) or country not in countries:
        raise InvalidRequestError(f"country_code must be one of {', '.join(countries)} for {number_type} numbers.")
    return country, number_type


def fulfil_phone_number_order(
    store: ConfigStore, provider: PhoneNumberProvider, message: dict[str, Any], now: datetime
) -> Operation:
    """Buy the number of a queued order and record it. Retryable upstream errors propagate (the queue
    retries); permanent ones fail the operation. Raises InvalidMessageError for a malformed message."""
    operation_id = message.get("operation_id")
    if not isinstance(operation_id, str):
        raise InvalidMessageError("A phone-number order message needs an operation_id.")
    operation = store.get_operation(operation_id)
    if operation.status != "running":
        return operation  # delivered twice: the first delivery finished it
    progress = StoredOrderProgress(store, operation)
    try:
        number = provider.purchase_number(operation.result["country_code"], progress)
    except UpstreamError as error:
        if error.retryable:
            raise
        failed = replace(progress.operation, status="failed", error=error.message)
        store.upsert_operation(failed)
        return failed
    verification = NumberVerification.PENDING if provider.verification_required else NumberVerification.NOT_REQUIRED
    store.add_phone_number(PhoneNumber(operation.org_id, number, provider.name, now, verification))
    done = replace(progress.operation, status="succeeded", result={**operation.result, "number": number})
    store.upsert_operation(done)
    logger.info("Phone number order %s fulfilled by %s", operation.id, provider.name)
    return done


class StoredOrderProgress:
    """An order's provider progress, saved on its operation row (`Operation.progress`) at every step."""

    def __init__(self, store: ConfigStore, operation: Operation) -> None:
        self._store = store
        self.operation = operation

    def get(self, step: str) -> str | None:
        return self.operation.progress.get(step)

    def save(self, step: str, token: str) -> None:
        self.operation = replace(self.operation, progress={**self.operation.progress, step: token})
        self._store.upsert_operation(self.operation)


def list_phone_numbers(store: ConfigStore, caller: Caller, org_id: str) -> list[PhoneNumber]:
    require_admin(caller)
    read_own_organisation(store, caller, org_id)
    return store.list_phone_numbers(org_id)


def record_toll_free_verification(
    store: ConfigStore, caller: Caller, org_id: str, number: str, read_body: ReadBody, now: datetime
) -> PhoneNumber:
    """Record whether the number passed toll-free verification (`{"verified": true|false}`), audited.

    Raises ForbiddenError, NotFoundError, InvalidRequestError, ConflictError (a number that needs none).
    """
    require_admin(caller)
    read_own_organisation(store, caller, org_id)
    document = read_body()
    refuse_unknown_fields(document, {"verified"})
    verified = document.get("verified")
    if not isinstance(verified, bool):
        raise InvalidRequestError("verified must be true or false.")
    e164 = international_to_e164(number)
    if e164 is None:
        raise InvalidRequestError("The number must be an E.164 phone number such as +18005550100.")
    current = store.get_phone_number(org_id, e164)
    if current.verification == NumberVerification.NOT_REQUIRED:
        raise ConflictError("This number needs no toll-free verification.")
    changed = replace(current, verification=NumberVerification.VERIFIED if verified else NumberVerification.PENDING)
    store.upsert_phone_number(changed)
    record_change(store, caller, org_id, "phone_number.toll_free_verification", e164, now, verified=verified)
    logger.info("Toll-free verification of a number of organisation %s recorded: %s", org_id, changed.verification)
    return changed


def get_operation(store: ConfigStore, caller: Caller, operation_id: str) -> Operation:
    """Raises ForbiddenError, NotFoundError (also another tenant's operation)."""
    require_admin(caller)
    operation = store.get_operation(operation_id)
    try:
        read_own_organisation(store, caller, operation.org_id)
    except NotFoundError:
        raise NotFoundError("No such operation.") from None
    return operation
