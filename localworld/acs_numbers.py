"""The ACS phone-numbers API as the real SDK drives it: search and purchase as long-running operations.

Every request's HMAC signature is checked against the access key; unsigned or wrongly signed
requests get 401 as from ACS. Search: 202 + Operation-Location + Location (the search result);
purchase: 202 + Operation-Location; operations answer `succeeded` after `polls_before_done` polls.
`failing_purchase_polls` polls of a purchase operation are answered 500 first (ACS bought the number but
the caller cannot see it), so a test proves a retry resumes the purchase instead of buying again.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid

from localworld.acs_hmac import acs_signature_valid
from localworld.server import Request, Response, StandIn


class AcsNumbersStandIn(StandIn):
    def __init__(self, polls_before_done: int = 1, *, failing_purchase_polls: int = 0) -> None:
        super().__init__(self._serve, tls=True)
        self.access_key = base64.b64encode(secrets.token_bytes(32)).decode()
        self.polls_before_done = polls_before_done
        self.failing_purchase_polls = failing_purchase_polls
        self.searches: dict[str, str] = {}
        self.purchased: list[str] = []
        self.polls: dict[str, int] = {}
        self.unsigned = 0

    @property
    def connection_string(self) -> str:
        return f"endpoint={self.url}/;accesskey={self.access_key}"

    def _serve(self, request: Request) -> Response:
        if not acs_signature_valid(request, self.access_key):
            self.unsigned += 1
            return Response.json({"error": {"code": "Denied", "message": "bad signature"}}, status=401)
        version = request.query.get("api-version", "")
        path = request.path
        if (
            request.method == "POST"
            and path.startswith("/availablePhoneNumbers/countries/")
            and path.endswith(":search")
        ):
            search_id = str(uuid.uuid4())
            self.searches[search_id] = f"+1833{secrets.randbelow(10**7):07d}"
            return self._accepted(
                f"search_{search_id}", version, location=f"/availablePhoneNumbers/searchResults/{search_id}"
            )
        if request.method == "GET" and path.startswith("/availablePhoneNumbers/searchResults/"):
            search_id = path.rsplit("/", 1)[1]
            return Response.json(
                {
                    "searchId": search_id,
                    "phoneNumbers": [self.searches[search_id]],
                    "phoneNumberType": "tollFree",
                    "assignmentType": "application",
                    "capabilities": {"calling": "none", "sms": "inbound+outbound"},
                    "cost": {"amount": 2.0, "currencyCode": "USD", "billingFrequency": "monthly"},
                    "searchExpiresBy": "2030-01-01T00:00:00Z",
                }
            )
        if request.method == "POST" and path == "/availablePhoneNumbers/:purchase":
            body = json.loads(request.body)
            if body.get("searchId") not in self.searches or body.get("agreeToNotResell") is not True:
                return Response.json({"error": {"code": "BadRequest", "message": "bad purchase"}}, status=400)
            self.purchased.append(self.searches[body["searchId"]])
            return self._accepted(f"purchase_{body['searchId']}", version)
        if request.method == "GET" and path.startswith("/phoneNumbers/operations/"):
            operation = path.rsplit("/", 1)[1]
            if operation.startswith("purchase_") and self.failing_purchase_polls > 0:
                self.failing_purchase_polls -= 1
                return Response.json({"error": {"code": "InternalError", "message": "try again"}}, status=500)
            self.polls[operation] = self.polls.get(operation, 0) + 1
            status = "succeeded" if self.polls[operation] > self.polls_before_done else "running"
            return Response.json({"id": operation, "status": status, "operationType": "search"})
        return Response(404)

    def _accepted(self, operation: str, version: str, location: str | None = None) -> Response:
        headers = {
            "Operation-Location": f"{self.url}/phoneNumbers/operations/{operation}?api-version={version}",
            "operation-id": operation,
        }
        if location:
            headers["Location"] = f"{self.url}{location}?api-version={version}"
            headers["search-id"] = location.rsplit("/", 1)[1]
        return Response(202, "", headers)
