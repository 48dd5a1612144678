"""The timer: reminders at each endpoint's lead times, and purge of phone numbers after the visit."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import azure.functions as func

from shared import bootstrap
from shared.errors import ConnectorError
from shared.lazy import lazy_import

maintenance = lazy_import("shared.services.maintenance")

logger = logging.getLogger(__name__)

bp = func.Blueprint()


@bp.timer_trigger(arg_name="timer", schedule="%TIMER_SCHEDULE%")
def send_reminders_and_purge(timer: func.TimerRequest) -> None:
    """Every geography in turn; one that fails is logged and left for the next tick (timers do not retry)."""
    storage = bootstrap.get_storage()
    now = datetime.now(UTC)
    for geo in storage.geos:
        try:
            report = maintenance.run_tick(
                geo=geo,
                account=storage.for_geo(geo),
                directory=bootstrap.get_directory(),
                join_tokens=bootstrap.get_join_tokens(),
                policy=bootstrap.get_notice_policy(),
                now=now,
            )
        except ConnectorError as error:
            logger.error("Timer tick for %s failed; the next tick retries: %s", geo, error.message)
            continue
        logger.info("Timer tick for %s: %s", geo, report)
