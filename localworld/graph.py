"""A Microsoft Graph stand-in for online meetings (createOrGet, idempotent on externalId, and PATCH) and for
change-notification subscriptions under /beta/subscriptions (POST, PATCH of the expiry; `expire` plays one
that Graph dropped, which then answers 404).

Answers can be scripted per call with `script` (a list of Responses served first, in order), to play
throttling, server errors and missing access policies. With `entra`, the same HTTPS server also plays
Entra ID (paths under the tenant), so the SDKs need one CA file.
"""

from __future__ import annotations

import json
import threading
import uuid

from localworld.entra_client_credentials import EntraClientCredentials
from localworld.server import Request, Response, StandIn


class GraphStandIn:
    def __init__(self, entra: EntraClientCredentials, *, port: int = 0) -> None:
        self.entra = entra
        self.meetings: dict[str, dict] = {}  # externalId -> meeting
        self.subscriptions: dict[str, dict] = {}  # id -> subscription as created (clientState included)
        self.script: list[Response] = []
        self.requests: list[Request] = []  # Graph's only, not Entra's
        self._lock = threading.Lock()
        self.server = StandIn(self.handle, tls=True, port=port)

    def handle(self, request: Request) -> Response:
        if self.entra.handles(request):
            return self.entra.handle(request)
        self.requests.append(request)
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.entra.issued:
            return _error(401, "InvalidAuthenticationToken")
        with self._lock:
            if self.script:
                return self.script.pop(0)
            parts = request.path.strip("/").split("/")  # v1.0 users {id} onlineMeetings ...
            if parts[:2] == ["beta", "subscriptions"]:
                return self._subscriptions(request, parts[2:])
            if len(parts) == 5 and parts[4] == "createOrGet" and request.method == "POST":
                body = json.loads(request.body)
                meeting = self.meetings.get(body["externalId"])
                if meeting is None:
                    meeting = {
                        "id": f"MSo{uuid.uuid4().hex}",
                        "externalId": body["externalId"],
                        "subject": body.get("subject"),
                        "startDateTime": body.get("startDateTime"),
                        "endDateTime": body.get("endDateTime"),
                        "joinWebUrl": f"https://teams.microsoft.com/l/meetup-join/{uuid.uuid4().hex}",
                        "lobbyBypassSettings": {"scope": "organizer", "isDialInBypassEnabled": False},
                    }
                    self.meetings[body["externalId"]] = meeting
                    return Response.json(meeting, status=201)
                return Response.json(meeting)
            if len(parts) == 5 and request.method == "PATCH":
                meeting = next((m for m in self.meetings.values() if m["id"] == parts[4]), None)
                if meeting is None:
                    return _error(404, "NotFound")
                meeting.update(json.loads(request.body))
                return Response.json(meeting)
        return _error(404, "UnknownRoute")

    def _subscriptions(self, request: Request, rest: list[str]) -> Response:
        if not rest and request.method == "POST":
            body = json.loads(request.body)
            subscription = {**body, "id": str(uuid.uuid4())}
            self.subscriptions[subscription["id"]] = subscription
            return Response.json({k: v for k, v in subscription.items() if k != "clientState"}, status=201)
        if len(rest) == 1 and request.method == "PATCH":
            subscription = self.subscriptions.get(rest[0])
            if subscription is None:
                return _error(404, "ResourceNotFound")
            subscription["expirationDateTime"] = json.loads(request.body)["expirationDateTime"]
            return Response.json({k: v for k, v in subscription.items() if k != "clientState"})
        return _error(404, "UnknownRoute")

    def expire(self, subscription_id: str) -> None:
        """Play a subscription that ran out (or that Graph removed): it is gone, renewals get 404."""
        with self._lock:
            del self.subscriptions[subscription_id]


def _error(status: int, code: str, headers: dict[str, str] | None = None) -> Response:
    return Response.json({"error": {"code": code, "message": code}}, status=status, headers=headers)


def graph_error(status: int, code: str, retry_after: int | None = None) -> Response:
    """A Graph error answer, optionally with Retry-After."""
    return _error(status, code, {"Retry-After": str(retry_after)} if retry_after is not None else None)
