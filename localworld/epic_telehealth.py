"""The local Epic's telehealth connection-status web service, and a page of the statuses it received.

Epic's Hyperspace shows a video visit's live status (patient in the waiting room, connected, hung up)
from the video vendor calling `SetExternalConnectionStatus` on the organisation's Interconnect server.
What is public about it, and what this stand-in therefore checks:
* the path `<Interconnect base>/api/epic/2018/Telehealth/ContextLinking/SetExternalConnectionStatus` and
  the parameters `ConferenceID`, `ExternalID`, `ExternalIDType`, `VendorName`, `ConnectionStatus` sent in
  the query string of a GET (a telehealth vendor's public sample script on GitHub; Vidyo's "Configure
  the Epic integration" guide, vidyo.com/help/VidyoHealth/2_Epic-integration, names the web service);
* the `Epic-Client-ID` header, required on every third-party call since Epic's February 2019 release
  (same Vidyo guide); we authenticate with a backend OAuth token (SMART Backend Services,
  hl7.org/fhir/smart-app-launch/backend-services.html) where older integrations used a Basic user;
* the `ConnectionStatus` numbers Epic's own MyChart telemedicine client uses (its public iOS framework
  header `WPTelemedicineConstants.h`: 0 unsure, 1 joined, 2 hung up, 3 waiting room).
The answer body of the real service is not public: this one answers 200 with an empty body, and 400
with a short JSON message for a call it cannot apply (as Epic's web services do for bad parameters).
"""

from __future__ import annotations

import html
import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from localworld.server import Request, Response

SERVICE_PATH = "/api/epic/2018/Telehealth/ContextLinking/SetExternalConnectionStatus"
STATUS_PAGE_PATH = "/telehealth/statuses"
PARAMETERS = ("ConferenceID", "ExternalID", "ExternalIDType", "VendorName", "ConnectionStatus")
STATUS_NAMES = {"0": "unsure", "1": "connected", "2": "disconnected", "3": "waiting room"}


@dataclass(frozen=True)
class ConnectionStatus:
    """One accepted call, in Epic's parameters."""

    conference_id: str
    external_id: str
    external_id_type: str
    vendor_name: str
    connection_status: str
    received_at: datetime


class TelehealthService:
    """Serves SetExternalConnectionStatus for callers holding a backend token and our Epic client id."""

    def __init__(self, client_id: str, backend_tokens: set[str]) -> None:
        self._client_id = client_id
        self._backend_tokens = backend_tokens
        self._lock = threading.Lock()
        self.calls: list[ConnectionStatus] = []
        self.errors: list[Response] = []
        """Answers served first, in order (to play Epic failing)."""

    def current(self) -> dict[tuple[str, str], str]:
        """(ConferenceID, ExternalID) -> the last ConnectionStatus set: what Hyperspace would show."""
        with self._lock:
            return {(c.conference_id, c.external_id): c.connection_status for c in self.calls}

    def serve(self, request: Request) -> Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self._backend_tokens:
            return Response(401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if request.headers.get("epic-client-id") != self._client_id:
            return _refusal(403, "The Epic-Client-ID header is missing or names no client of this server.")
        if request.method != "GET":
            return _refusal(405, "SetExternalConnectionStatus is called with GET.")
        if self.errors:
            return self.errors.pop(0)
        missing = [name for name in PARAMETERS if not request.query.get(name, "").strip()]
        if missing:
            return _refusal(400, f"Missing parameters: {', '.join(missing)}.")
        if request.query["ConnectionStatus"] not in STATUS_NAMES:
            return _refusal(400, "ConnectionStatus is not one of 0, 1, 2, 3.")
        call = ConnectionStatus(*(request.query[name] for name in PARAMETERS), received_at=datetime.now(UTC))
        with self._lock:
            self.calls.append(call)
        return Response(200)

    def page(self) -> Response:
        """What Hyperspace would show: the last status per conference and participant, then every call."""
        rows = "".join(
            f"<tr><td>{html.escape(conference)}</td><td>{html.escape(external)}</td>"
            f"<td>{STATUS_NAMES[status]}</td></tr>"
            for (conference, external), status in self.current().items()
        )
        log = "".join(
            f"<li>{c.received_at:%H:%M:%S} {html.escape(c.conference_id)} {html.escape(c.external_id)} "
            f"({html.escape(c.external_id_type)}, {html.escape(c.vendor_name)}): "
            f"{STATUS_NAMES[c.connection_status]}</li>"
            for c in list(self.calls)
        )
        body = (
            "<!doctype html><html><head><meta charset='utf-8'><title>Local Epic: video visit statuses</title></head>"
            "<body><h1>Video visit statuses</h1><table><tr><th>ConferenceID</th><th>ExternalID</th>"
            f"<th>Status</th></tr>{rows}</table><h2>Calls received</h2><ol>{log}</ol></body></html>"
        )
        return Response(200, body, {"Content-Type": "text/html; charset=utf-8"})


def _refusal(status: int, message: str) -> Response:
    return Response(status, json.dumps({"Message": message}), {"Content-Type": "application/json"})
