"""ACS events from Event Grid: SMS delivery reports and inbound texts (STOP / START), for every geography."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import azure.functions as func

from shared import bootstrap
from shared.errors import InvalidMessageError
from shared.lazy import lazy_import
from shared.log_safety import loggable

sms_events = lazy_import("shared.services.sms_events")

logger = logging.getLogger(__name__)

bp = func.Blueprint()


@bp.function_name("receive_sms_delivery_report")
@bp.event_grid_trigger(arg_name="event")
def receive_sms_delivery_report(event: func.EventGridEvent) -> None:
    """Malformed events are logged and dropped; anything else that fails raises, so Event Grid retries."""
    context = sms_events.AcsEventContext(
        storage=bootstrap.get_storage(),
        directory=bootstrap.get_config_store(),
        opt_out_key=bootstrap.get_settings().require_opt_out_hash_key(),
        now=datetime.now(UTC),
    )
    try:
        outcome = sms_events.handle_acs_event(event.event_type, event.get_json(), context)
    except InvalidMessageError as error:
        logger.warning("ACS event %s dropped: %s", loggable(event.id), error.message)
        return
    logger.info("ACS event %s: %s", loggable(event.id), outcome)
