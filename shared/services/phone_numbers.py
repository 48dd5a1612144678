"""Phone numbers of an organisation: order one (asynchronous), fulfil the order, list them.

The order is answered at once with an operation the caller polls; a queue-triggered function does
the slow purchase and records the outcome on the operation.
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
from shared.errors import ConflictError, InvalidMessageError, InvalidRequestError, UpstreamError
from shared.services.config_changes import record_change, refuse_unknown_fields

logger = logging.getLogger(__name__)

ORDER_KIND = "phone_number_order"
SUPPORTED_COUNTRIES = ("US", "CA")
"""Where ACS sells toll-free SMS numbers to applications."""


def order_phone_number(
    store: ConfigStore, orders: Queue, caller: Caller, org_id: str, document: dict[str, Any], now: datetime
) -> Operation:
    """Queue the purchase of a number. Raises ForbiddenError, NotFoundError, InvalidRequestError,
    ConflictError (SMS consents missing)."""
    require_admin(caller)
    refuse_unknown_fields(document, {"country_code"})
    country = document.get("country_code", "US")
    if country not in SUPPORTED_COUNTRIES:
        raise InvalidRequestError(f"country_code must be one of {', '.join(SUPPORTED_COUNTRIES)}.")
    org = store.get_organisation(org_id)
    if not org.sms_consented:
        raise ConflictError("Both SMS consents of the organisation are needed before numbers can be ordered.")
    operation = Operation(new_id("op"), org.id, ORDER_KIND, "running", now, {"country_code": country})
    store.create_operation(operation)
    orders.send({"operation_id": operation.id})
    record_change(store, caller, org.id, "phone_number.ordered", operation.id, now, country_code=country)
    logger.info("Phone number order %s queued", operation.id)
    return operation


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
    store.add_phone_number(PhoneNumber(operation.org_id, number, provider.name, now))
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
    store.get_organisation(org_id)
    return store.list_phone_numbers(org_id)


def get_operation(store: ConfigStore, caller: Caller, operation_id: str) -> Operation:
    require_admin(caller)
    return store.get_operation(operation_id)
