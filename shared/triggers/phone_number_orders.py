"""The queue function that buys ordered phone numbers (long ACS operations, outside any HTTP request)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import azure.functions as func

from shared import bootstrap
from shared.errors import InvalidMessageError
from shared.lazy import lazy_import
from shared.queue_names import PHONE_NUMBER_ORDERS_QUEUE

logger = logging.getLogger(__name__)

phone_numbers = lazy_import("shared.services.phone_numbers")

bp = func.Blueprint()


@bp.queue_trigger(arg_name="msg", queue_name=PHONE_NUMBER_ORDERS_QUEUE, connection="CONTROL_STORAGE")
def fulfil_phone_number_orders(msg: func.QueueMessage) -> None:
    """Retryable failures raise (the host retries, then poisons); a malformed message is logged and completed."""
    try:
        message = json.loads(msg.get_body())
        if not isinstance(message, dict):
            raise InvalidMessageError("A phone-number order message must be a JSON object.")
        phone_numbers.fulfil_phone_number_order(
            bootstrap.get_config_store(), bootstrap.get_phone_number_provider(), message, datetime.now(UTC)
        )
    except (ValueError, InvalidMessageError):
        logger.warning("Dropping malformed phone-number order message %s", msg.id)
