"""Event Grid pushing Azure Communication Services SMS events to a webhook, for a local run with
`SMS_PROVIDER=acs`: each SMS the ACS stand-in accepts with delivery reports on is followed, as with ACS, by a
`Microsoft.Communication.SMSDeliveryReportReceived` event to the connector's Event Grid trigger.

Shapes: the Event Grid event schema (`id`, `topic`, `subject`, `eventType`, `eventTime`, `data`,
`dataVersion`, `metadataVersion`; a JSON array per POST),
https://learn.microsoft.com/en-us/azure/event-grid/event-schema; webhook delivery with header
`aeg-event-type: Notification`, retried on failure, https://learn.microsoft.com/en-us/azure/event-grid/webhook-event-delivery
and https://learn.microsoft.com/en-us/azure/event-grid/delivery-and-retry; the delivery report's data
(`messageId`, `from`, `to`, `deliveryStatus`, `deliveryStatusDetails`, `deliveryAttempts[]` of
`timestamp`/`segmentsSucceeded`/`segmentsFailed`, `receivedTimestamp`, `tag`: the send request's
`smsSendOptions.tag`), the AcsSmsDeliveryReportReceivedEventData model of the Event Grid system events,
https://learn.microsoft.com/en-us/javascript/api/@azure/eventgrid-system-events/acssmsdeliveryreportreceivedeventdata
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Iterable

import requests

from localworld.acs_sms import AcsSmsStandIn
from localworld.server import Request, Response

DELIVERY_REPORT = "Microsoft.Communication.SMSDeliveryReportReceived"
TOPIC = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/local/providers/"
    "Microsoft.Communication/communicationServices/local-acs"
)
RETRY_DELAYS = (1.0, 5.0, 10.0)
"""Event Grid retries a failed delivery with growing delays (10 s, 30 s, 1 min, ... in Azure; shorter here)."""


class EventGridDelivery:
    """Posts events to one webhook subscription, retrying failures; `delivered` counts 2xx answers."""

    def __init__(self, webhook_url: str) -> None:
        self.webhook_url = webhook_url
        self.delivered = 0
        self.failed = 0

    def publish(self, event_type: str, subject: str, data: dict) -> None:
        event = {
            "id": str(uuid.uuid4()),
            "topic": TOPIC,
            "subject": subject,
            "eventType": event_type,
            "eventTime": _now(),
            "data": data,
            "dataVersion": "1.0",
            "metadataVersion": "1",
        }
        for delay in (0.0, *RETRY_DELAYS):
            time.sleep(delay)
            try:
                answer = requests.post(
                    self.webhook_url, json=[event], headers={"aeg-event-type": "Notification"}, timeout=30
                )
            except requests.RequestException:
                continue
            if answer.ok:
                self.delivered += 1
                return
        self.failed += 1


class ReportingAcsSms(AcsSmsStandIn):
    """The ACS SMS stand-in plus its delivery reports through Event Grid (when `reports` is set)."""

    def __init__(self, answers: Iterable[Response] = (), *, port: int = 0) -> None:
        super().__init__(answers, port=port)
        self.reports: EventGridDelivery | None = None

    def _answer(self, request: Request) -> Response:
        answer = super()._answer(request)
        if answer.status == 202 and self.reports is not None:
            sent = json.loads(request.body)
            options = sent.get("smsSendOptions") or {}
            if options.get("enableDeliveryReport"):
                for result in json.loads(answer.body)["value"]:
                    if result.get("successful"):
                        report = _delivery_report(sent, result, options.get("tag"))
                        subject = f"/phonenumber/{result['to'].lstrip('+')}"
                        threading.Thread(
                            target=self.reports.publish, args=(DELIVERY_REPORT, subject, report), daemon=True
                        ).start()
        return answer


def _delivery_report(sent: dict, result: dict, tag: str | None) -> dict:
    now = _now()
    report = {
        "messageId": result["messageId"],
        "from": sent.get("from", ""),
        "to": result["to"],
        "deliveryStatus": "Delivered",
        "deliveryStatusDetails": "No error.",
        "deliveryAttempts": [{"timestamp": now, "segmentsSucceeded": 1, "segmentsFailed": 0}],
        "receivedTimestamp": now,
    }
    return {**report, "tag": tag} if tag is not None else report


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
