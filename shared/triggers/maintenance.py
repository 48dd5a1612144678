"""The timer: reminders at each endpoint's lead times, purge of phone numbers after the visit, and every
table's lifetime (`shared/services/retention.py`)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import azure.functions as func

from shared import bootstrap
from shared.errors import ConnectorError
from shared.lazy import lazy_import

maintenance = lazy_import("shared.services.maintenance")
retention = lazy_import("shared.services.retention")

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
    for report in retention.enforce_every_account(
        storage, timedelta(days=bootstrap.get_settings().reporting_period_days), now
    ):
        logger.info("Lifetimes in %s: %s", report.account, report)
