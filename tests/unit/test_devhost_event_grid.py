"""The local host's Event Grid webhook answers as the Functions host's Event Grid extension does."""

from __future__ import annotations

import json

import azure.functions as func

from shared.devhost.event_grid import EventGridWebhook
from shared.devhost.functions import read_functions
from shared.devhost.http_server import HttpHost

received: list[func.EventGridEvent] = []


def build_host() -> HttpHost:
    app = func.FunctionApp()

    @app.function_name("on_event")
    @app.event_grid_trigger(arg_name="event")
    def on_event(event: func.EventGridEvent) -> None:
        if event.get_json().get("fail"):
            raise RuntimeError("asked to fail")
        received.append(event)

    catalogue = read_functions(app, {})
    return HttpHost(catalogue.http, route_prefix="api", port=0, event_grid=EventGridWebhook(catalogue.event_grid))


def post(kind: str | None, body: object, function: str = "on_event") -> func.HttpResponse:
    host = build_host()
    try:
        headers = {"aeg-event-type": kind} if kind else {}
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        return host.handle("POST", f"/runtime/webhooks/EventGrid?functionName={function}", headers, payload)
    finally:
        host.server.server_close()


def event(data: dict) -> dict:
    return {
        "id": "e1",
        "topic": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Communication/communicationServices/a",
        "subject": "/phonenumber/16175550123",
        "eventType": "Microsoft.Communication.SMSDeliveryReportReceived",
        "eventTime": "2026-12-01T20:00:00Z",
        "data": data,
        "dataVersion": "1.0",
        "metadataVersion": "1",
    }


def test_a_notification_runs_the_function_per_event_and_is_accepted() -> None:
    received.clear()
    answer = post("Notification", [event({"n": 1}), event({"n": 2})])
    assert answer.status_code == 202
    assert [e.get_json()["n"] for e in received] == [1, 2]
    assert received[0].event_type == "Microsoft.Communication.SMSDeliveryReportReceived"
    assert received[0].event_time is not None


def test_the_subscription_handshake_echoes_the_validation_code() -> None:
    answer = post("SubscriptionValidation", [{"data": {"validationCode": "code-1"}}])
    assert answer.status_code == 200
    assert json.loads(answer.get_body()) == {"validationResponse": "code-1"}


def test_a_failing_event_is_a_500_so_event_grid_redelivers() -> None:
    assert post("Notification", [event({"fail": True})]).status_code == 500


def test_unknown_functions_missing_headers_and_malformed_bodies_are_refused() -> None:
    assert post("Notification", [event({})], function="nope").status_code == 404
    assert post(None, [event({})]).status_code == 400
    assert post("Notification", b"{not json").status_code == 400
    assert post("Notification", ["not an object"]).status_code == 500
    assert post("Unsubscribe", []).status_code == 202
