"""The managed-identity endpoint App Service and Azure Functions give an app: tokens for its assigned identities.

The platform sets IDENTITY_ENDPOINT (a loopback http URL) and IDENTITY_HEADER; a client sends
`GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=<audience>[&client_id=<id>]` with header
`X-IDENTITY-HEADER` and gets `{access_token, expires_on, resource, token_type, client_id}`. An identity the app
does not have, including the system-assigned one when only user-assigned identities are assigned, gets 400
"No Managed Identity found for specified ClientId/ResourceId/PrincipalId." Shapes from the App Service
documentation (learn.microsoft.com/azure/app-service/overview-managed-identity, "REST endpoint reference")
and the client side in msal `managed_identity.py` (`_obtain_token_on_app_service`) and azure-identity
`_credentials/app_service.py`.
"""

from __future__ import annotations

import secrets
import time

from localworld.server import Request, Response, StandIn

API_VERSION = "2019-08-01"
TOKEN_PATH = "/msi/token"  # noqa: S105 - a URL path, not a secret


class AppServiceIdentityStandIn(StandIn):
    """Issues tokens for the user-assigned identities in `client_ids`; `issued` records (client_id, resource)."""

    def __init__(self, client_ids: set[str], *, system_assigned: bool = False) -> None:
        super().__init__(self._serve)
        self.client_ids = client_ids
        self.system_assigned = system_assigned
        self.header = secrets.token_urlsafe(16)
        self.issued: list[tuple[str | None, str]] = []

    def environment(self) -> dict[str, str]:
        """The variables the platform sets in the app's process."""
        return {"IDENTITY_ENDPOINT": f"{self.url}{TOKEN_PATH}", "IDENTITY_HEADER": self.header}

    def _serve(self, request: Request) -> Response:
        if request.path != TOKEN_PATH or request.method != "GET":
            return Response.json({"statusCode": 404, "message": "Not found"}, status=404)
        if request.headers.get("x-identity-header") != self.header:
            return Response.json({"statusCode": 400, "message": "Invalid X-IDENTITY-HEADER."}, status=400)
        if request.query.get("api-version") != API_VERSION or not request.query.get("resource"):
            return Response.json({"statusCode": 400, "message": "Invalid request parameters."}, status=400)
        client_id = request.query.get("client_id")
        known = client_id in self.client_ids if client_id else self.system_assigned
        if not known:
            return Response.json(
                {
                    "statusCode": 400,
                    "message": "No Managed Identity found for specified ClientId/ResourceId/PrincipalId.",
                    "correlationId": secrets.token_hex(16),
                },
                status=400,
            )
        resource = request.query["resource"]
        self.issued.append((client_id, resource))
        return Response.json(
            {
                "access_token": f"mi-{secrets.token_urlsafe(24)}",
                "expires_on": str(int(time.time()) + 3600),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": client_id,
            }
        )
