"""Event Grid triggers on the local host, at the webhook the Functions host serves for them:
`POST /runtime/webhooks/eventgrid?functionName=<name>`, as the Event Grid extension answers it.

The extension (Azure/azure-functions-eventgrid-extension, src/EventGridExtension/
EventGridExtensionConfigProvider.cs) reads the `aeg-event-type` header: `SubscriptionValidation` is
answered 200 with `{"validationResponse": <data.validationCode of the first event>}`; `Notification`
carries a JSON array of Event Grid schema events (or one CloudEvent object), each run through the function,
202 when all succeed and 500 when one fails (Event Grid then redelivers the batch); `Unsubscribe` gets 202;
an unknown function 404; anything else 400.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

import azure.functions as func

from shared.devhost.functions import Function

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/runtime/webhooks/eventgrid"


class EventGridWebhook:
    def __init__(self, functions: list[Function]) -> None:
        self.functions = {function.name: function for function in functions}

    def handle(self, params: dict[str, str], headers: dict[str, str], body: bytes) -> func.HttpResponse:
        function = self.functions.get(params.get("functionName", ""))
        if function is None:
            return func.HttpResponse(f"cannot find function: '{params.get('functionName', '')}'", status_code=404)
        kind = next((v for k, v in headers.items() if k.lower() == "aeg-event-type"), "").lower()
        try:
            document = json.loads(body)
        except ValueError:
            return func.HttpResponse("the body is not JSON", status_code=400)
        if kind == "subscriptionvalidation":
            code = document[0]["data"]["validationCode"] if isinstance(document, list) and document else None
            return func.HttpResponse(json.dumps({"validationResponse": code}), mimetype="application/json")
        if kind == "unsubscribe":
            return func.HttpResponse(status_code=202)
        if kind != "notification" or not isinstance(document, list | dict):
            return func.HttpResponse(status_code=400)
        for event in document if isinstance(document, list) else [document]:
            try:
                function.call(_event(event))
            except Exception:
                # As the host: the failure goes back to Event Grid, which redelivers the whole batch.
                logger.exception("Function %s raised on an Event Grid event", function.name)
                return func.HttpResponse(status_code=500)
        return func.HttpResponse(status_code=202)


def _event(event: Any) -> func.EventGridEvent:
    """An Event Grid schema event (or a CloudEvent's corresponding fields) as the Python worker binds it."""
    if not isinstance(event, dict):
        raise ValueError("an Event Grid event must be a JSON object")
    time = event.get("eventTime") or event.get("time")
    return func.EventGridEvent(
        id=str(event.get("id", "")),
        data=event.get("data") or {},
        topic=str(event.get("topic") or event.get("source") or ""),
        subject=str(event.get("subject", "")),
        event_type=str(event.get("eventType") or event.get("type") or ""),
        event_time=datetime.fromisoformat(time.replace("Z", "+00:00")) if isinstance(time, str) else None,
        data_version=str(event.get("dataVersion", "")),
    )
