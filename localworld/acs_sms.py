"""A stand-in for the ACS SMS endpoint (`POST /sms?api-version=...`): HMAC check, repeatable requests, delivery reports.

Shapes and rules, from:

* the send request and answer: Azure/azure-rest-api-specs
  specification/communication/data-plane/Sms/stable/2021-03-07/communicationservicessms.json (`SmsRecipient`
  with `repeatabilityRequestId` / `repeatabilityFirstSent`, `SmsSendResponseItem` with `httpStatusCode`,
  `repeatabilityResult` accepted | rejected, `successful`, `errorMessage`; the whole answer is 202);
* repeatability: https://learn.microsoft.com/rest/api/communication/repeatable-requests — a request id is
  tracked for 5 minutes from its first-sent time (IMF-fixdate); a malformed id or time is rejected with
  400; a first-sent time older than the tracked duration is rejected with 412; a repeat inside the window
  that matches the first request is accepted and answered as the first was without being carried out again
  (unless the first failed with a 5xx, which is carried out anew); one that does not match is rejected with
  400. The SMS API carries the pair per recipient, so the stand-in answers these per recipient item;
* the HMAC signature: `localworld.acs_hmac`;
* delivery reports: the Event Grid `Microsoft.Communication.SMSDeliveryReportReceived` data
  (https://learn.microsoft.com/azure/event-grid/communication-services-telephony-sms-events): `messageId`,
  `from`, `to`, `deliveryStatus`, `deliveryStatusDetails`, `deliveryAttempts`, `receivedTimestamp`, `tag`.

Answers for new requests come from a list of `Response`s (the last one repeats), so a test scripts
throttling, server errors and per-recipient failures; `delay_seconds` holds the answer back after the
request was carried out (a timeout that loses ACS's answer); `clock` is ACS's clock, which a test moves to
step outside the window. `sent` lists every SMS ACS actually sent, once each.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from localworld.acs_hmac import acs_signature_valid
from localworld.server import Request, Response, StandIn

REPEATABILITY_WINDOW = timedelta(minutes=5)


def accepted(message_id: str = "") -> Response:
    """ACS's answer when the recipient was accepted; `to` is echoed from the request by the stand-in, and an
    empty `message_id` becomes a fresh one per SMS, as ACS gives."""
    return Response.json(
        {"value": [{"to": "", "messageId": message_id, "httpStatusCode": 202, "successful": True}]}, status=202
    )


def recipient_failed(status: int, error: str) -> Response:
    return Response.json(
        {"value": [{"to": "", "httpStatusCode": status, "successful": False, "errorMessage": error}]}, status=202
    )


@dataclass(frozen=True)
class SentSms:
    """One SMS the stand-in sent, with what its delivery report names."""

    request_id: str
    message_id: str
    from_number: str
    to_number: str
    message: str
    tag: str


@dataclass(frozen=True)
class _Tracked:
    fingerprint: tuple[str, ...]
    first_sent: datetime
    item: dict[str, Any]


class AcsSmsStandIn(StandIn):
    def __init__(
        self,
        answers: Iterable[Response] = (),
        *,
        delay_seconds: float = 0.0,
        clock: Callable[[], datetime] | None = None,
        port: int = 0,
    ) -> None:
        self.access_key = base64.b64encode(secrets.token_bytes(32)).decode()
        self.answers = list(answers) or [accepted()]
        self.delay_seconds = delay_seconds
        self.clock = clock or (lambda: datetime.now(UTC))
        self.sent: list[SentSms] = []
        self._tracked: dict[str, _Tracked] = {}
        self._lock = threading.Lock()
        super().__init__(self._answer, tls=True, port=port)

    def connection_string(self, access_key: str | None = None) -> str:
        return f"endpoint={self.url}/;accesskey={access_key or self.access_key}"

    def bodies(self) -> list[dict]:
        return [json.loads(request.body) for request in self.requests]

    def delivery_report(self, sms: SentSms, status: str = "Delivered", details: str = "No error.") -> dict[str, Any]:
        """The data of the `SMSDeliveryReportReceived` event ACS publishes for `sms`."""
        at = self.clock().isoformat().replace("+00:00", "Z")
        return {
            "messageId": sms.message_id,
            "from": sms.from_number,
            "to": sms.to_number,
            "deliveryStatus": status,
            "deliveryStatusDetails": details,
            "deliveryAttempts": [{"timestamp": at, "segmentsSucceeded": 1, "segmentsFailed": 0}],
            "receivedTimestamp": at,
            "tag": sms.tag,
        }

    def _answer(self, request: Request) -> Response:
        if request.method != "POST" or request.path != "/sms" or "api-version" not in request.query:
            return Response.json({"error": {"code": "NotFound"}}, status=404)
        if not acs_signature_valid(request, self.access_key):
            return Response.json({"error": {"code": "Denied", "message": "Denied by the resource provider."}}, 401)
        body = json.loads(request.body)
        with self._lock:
            answer = self._carry_out(body)
        time.sleep(self.delay_seconds)
        return answer

    def _carry_out(self, body: dict[str, Any]) -> Response:
        items: list[dict[str, Any]] = []
        for recipient in body["smsRecipients"]:
            refused = self._repeatability_refusal(body, recipient)
            if refused is not None:
                items.append(refused)
                continue
            tracked = self._tracked.get(recipient["repeatabilityRequestId"])
            if tracked is not None:
                items.append({**tracked.item, "repeatabilityResult": "accepted"})
                continue
            answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
            if answer.status != 202:
                return answer
            [item] = json.loads(answer.body)["value"]
            item = {**item, "to": recipient["to"], "repeatabilityResult": "accepted"}
            if item.get("successful"):
                item["messageId"] = item.get("messageId") or str(uuid.uuid4())
                self.sent.append(self._sent(body, recipient, item["messageId"]))
            if item["httpStatusCode"] < 500:
                first_sent = parsedate_to_datetime(recipient["repeatabilityFirstSent"])
                self._tracked[recipient["repeatabilityRequestId"]] = _Tracked(
                    _fingerprint(body, recipient), first_sent, item
                )
            items.append(item)
        return Response.json({"value": items}, status=202)

    def _repeatability_refusal(self, body: dict[str, Any], recipient: dict[str, Any]) -> dict[str, Any] | None:
        """The rejected item for a recipient whose repeatability pair ACS refuses, or None."""
        try:
            uuid.UUID(str(recipient.get("repeatabilityRequestId")))
            first_sent = parsedate_to_datetime(str(recipient.get("repeatabilityFirstSent")))
        except (TypeError, ValueError):
            return _rejected(recipient, 400, "Invalid repeatability request id or first-sent time.")
        if first_sent.tzinfo is None or self.clock() - first_sent > REPEATABILITY_WINDOW:
            return _rejected(recipient, 412, "The repeatability first-sent time is outside the 5-minute window.")
        tracked = self._tracked.get(recipient["repeatabilityRequestId"])
        if tracked is not None and (tracked.fingerprint, tracked.first_sent) != (
            _fingerprint(body, recipient),
            first_sent,
        ):
            return _rejected(recipient, 400, "The repeated request does not match the first one.")
        return None

    @staticmethod
    def _sent(body: dict[str, Any], recipient: dict[str, Any], message_id: str) -> SentSms:
        return SentSms(
            request_id=recipient["repeatabilityRequestId"],
            message_id=message_id,
            from_number=body["from"],
            to_number=recipient["to"],
            message=body["message"],
            tag=(body.get("smsSendOptions") or {}).get("tag") or "",
        )


def _fingerprint(body: dict[str, Any], recipient: dict[str, Any]) -> tuple[str, ...]:
    tag = (body.get("smsSendOptions") or {}).get("tag") or ""
    return (body["from"], recipient["to"], body["message"], tag)


def _rejected(recipient: dict[str, Any], status: int, message: str) -> dict[str, Any]:
    return {
        "to": recipient.get("to", ""),
        "httpStatusCode": status,
        "repeatabilityResult": "rejected",
        "successful": False,
        "errorMessage": message,
    }
