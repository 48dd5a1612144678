"""Entra ID as the app sees it when it calls Graph: OpenID discovery and the client-credentials token endpoint.

A handler, not a server: serve it from a `StandIn` of its own or together with the Graph stand-in
(one server, one certificate: clients then need one CA file).
"""

from __future__ import annotations

import secrets
from urllib.parse import parse_qsl

from localworld.server import Request, Response


class EntraClientCredentials:
    """Issues opaque bearer tokens to one app (tenant, client id, secret); `issued` lists them."""

    def __init__(self, tenant: str, client_id: str, client_secret: str) -> None:
        self.tenant, self.client_id, self.client_secret = tenant, client_id, client_secret
        self.issued: list[str] = []

    def handles(self, request: Request) -> bool:
        return request.path.startswith(f"/{self.tenant}/")

    def handle(self, request: Request) -> Response:
        base = f"https://{request.headers['host']}/{self.tenant}"
        if request.method == "GET" and request.path == f"/{self.tenant}/v2.0/.well-known/openid-configuration":
            return Response.json(
                {
                    "issuer": f"{base}/v2.0",
                    "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                    "token_endpoint": f"{base}/oauth2/v2.0/token",
                    "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                }
            )
        if request.method == "POST" and request.path == f"/{self.tenant}/oauth2/v2.0/token":
            form = dict(parse_qsl(request.body.decode()))
            if (
                form.get("grant_type") != "client_credentials"
                or form.get("client_id") != self.client_id
                or form.get("client_secret") != self.client_secret
            ):
                return Response.json({"error": "invalid_client", "error_description": "bad client"}, status=401)
            token = secrets.token_urlsafe(24)
            self.issued.append(token)
            return Response.json({"token_type": "Bearer", "expires_in": 3600, "access_token": token})
        return Response.json({"error": "not_found"}, status=404)
