"""A tiny FunctionApp that records what the local host hands it, to test host semantics alone."""

from __future__ import annotations

import json

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

received: list[dict[str, object]] = []
attempts: list[int] = []
ticks: list[bool] = []


@app.queue_trigger(arg_name="msg", queue_name="%SAMPLE_QUEUE%", connection="GEO_EU_STORAGE")
def record_message(msg: func.QueueMessage) -> None:
    attempts.append(msg.dequeue_count)
    received.append(json.loads(msg.get_body()))  # garbage raises, as a real decoder would


@app.timer_trigger(arg_name="timer", schedule="%SAMPLE_SCHEDULE%")
def record_tick(timer: func.TimerRequest) -> None:
    ticks.append(timer.past_due)


@app.route(route="echo/{word}", methods=["POST"])
def echo(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps({"word": req.route_params["word"], "q": req.params.get("q"), "body": req.get_body().decode()}),
        mimetype="application/json",
        headers={"X-Seen": req.headers.get("x-probe", "")},
    )
