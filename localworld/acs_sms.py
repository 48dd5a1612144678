"""A stand-in for the ACS SMS endpoint (`POST /sms?api-version=...`) that checks the SDK's HMAC signature.

Answers come from a list of `Response`s (the last one repeats), so a test scripts throttling, server
errors and per-recipient failures; a request with a bad signature gets 401 as ACS would give.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Iterable

from localworld.acs_hmac import acs_signature_valid
from localworld.server import Request, Response, StandIn


def accepted(message_id: str = "acs-message-1") -> Response:
    """ACS's answer when the recipient was accepted; `to` is echoed from the request by the stand-in."""
    return Response.json(
        {"value": [{"to": "", "messageId": message_id, "httpStatusCode": 202, "successful": True}]}, status=202
    )


def recipient_failed(status: int, error: str) -> Response:
    return Response.json(
        {"value": [{"to": "", "httpStatusCode": status, "successful": False, "errorMessage": error}]}, status=202
    )


class AcsSmsStandIn(StandIn):
    def __init__(self, answers: Iterable[Response] = (), *, delay_seconds: float = 0.0, port: int = 0) -> None:
        self.access_key = base64.b64encode(secrets.token_bytes(32)).decode()
        self.answers = list(answers) or [accepted()]
        self.delay_seconds = delay_seconds
        super().__init__(self._answer, tls=True, port=port)

    def connection_string(self, access_key: str | None = None) -> str:
        return f"endpoint={self.url}/;accesskey={access_key or self.access_key}"

    def bodies(self) -> list[dict]:
        return [json.loads(request.body) for request in self.requests]

    def _answer(self, request: Request) -> Response:
        if request.method != "POST" or request.path != "/sms" or "api-version" not in request.query:
            return Response.json({"error": {"code": "NotFound"}}, status=404)
        if not acs_signature_valid(request, self.access_key):
            return Response.json({"error": {"code": "Denied", "message": "Denied by the resource provider."}}, 401)
        time.sleep(self.delay_seconds)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if answer.status == 202:
            document = json.loads(answer.body)
            to = json.loads(request.body)["smsRecipients"][0]["to"]
            for item in document["value"]:
                item["to"] = to
            return Response.json(document, status=202, headers=answer.headers)
        return answer
