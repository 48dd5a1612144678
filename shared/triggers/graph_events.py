"""Microsoft Graph change notifications for visit meetings' call events, and the timer that keeps their
subscriptions alive.

`POST /api/events/graph`: with `?validationToken=`, Graph's subscription handshake, answered with the token
as text/plain (Graph waits 10 s); otherwise a delivery of notifications, each item applied on its own and
the delivery answered 202 (items that do not validate are dropped and counted, never a 401 for all: Graph
would redeliver the valid ones). The EHR is never called here: visit events go to the write-back queue.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import azure.functions as func

from shared import bootstrap
from shared.errors import ConnectorError, InvalidRequestError
from shared.lazy import lazy_import
from shared.triggers.http import HttpBlueprint, api_errors, read_json_object

call_events = lazy_import("shared.services.call_events")

logger = logging.getLogger(__name__)

bp = HttpBlueprint()

MAX_VALIDATION_TOKEN = 1024
MAX_NOTIFICATION_BODY = 1024 * 1024
"""Graph batches notifications; a roster update is a few hundred bytes each."""


@bp.route(route=bootstrap.GRAPH_EVENTS_ROUTE, methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@api_errors
def receive_graph_notifications(req: func.HttpRequest) -> func.HttpResponse:
    token = req.params.get("validationToken")
    if token is not None:
        if not token or len(token) > MAX_VALIDATION_TOKEN:
            raise InvalidRequestError("validationToken is empty or too long.")
        return func.HttpResponse(token, status_code=200, mimetype="text/plain", charset="utf-8")
    context = call_events.NotificationContext(
        storage=bootstrap.get_storage(),
        directory=bootstrap.get_directory(),
        reader=bootstrap.get_notification_reader(),
        now=datetime.now(UTC),
    )
    outcome = call_events.receive_notifications(read_json_object(req, MAX_NOTIFICATION_BODY), context)
    logger.info(
        "Graph notifications: %d call events applied, %d lifecycle, dropped %s",
        outcome.applied,
        outcome.lifecycle,
        dict(outcome.dropped),
    )
    return func.HttpResponse(status_code=202)


@bp.timer_trigger(arg_name="timer", schedule="%TIMER_SCHEDULE%")
def renew_graph_subscriptions(timer: func.TimerRequest) -> None:
    """Renew, reauthorize, recreate, retry or delete call-event subscriptions; failures are retried next tick."""
    storage = bootstrap.get_storage()
    try:
        counts = call_events.renew_subscriptions(
            storage, bootstrap.get_meeting_service(), storage.geos, datetime.now(UTC)
        )
    except ConnectorError as error:
        logger.error("Subscription renewal failed; the next tick retries: %s", error.message)
        return
    logger.info("Graph subscriptions: %s", counts)
