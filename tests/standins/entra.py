"""Microsoft Entra ID as far as token validation sees it: an OpenID configuration, a JWKS, and tokens.

Keys are generated per stand-in; `token(...)` mints access tokens as Entra v2 does (RS256, `kid`,
issuer `https://login.microsoftonline.com/<tid>/v2.0`), with knobs to make each check fail.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.standins.server import Request, Response, StandIn

TENANT = "11111111-1111-1111-1111-111111111111"
OTHER_TENANT = "22222222-2222-2222-2222-222222222222"
CLIENT_ID = "33333333-3333-3333-3333-333333333333"
ISSUER_TEMPLATE = "https://login.microsoftonline.com/{tenantid}/v2.0"


class EntraStandIn(StandIn):
    def __init__(self) -> None:
        super().__init__(self._serve)
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.rotate()

    def rotate(self) -> str:
        """Publish one more signing key (as Entra does before it switches); returns its kid."""
        kid = uuid.uuid4().hex
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.current_kid = kid
        return kid

    @property
    def openid_config_url(self) -> str:
        return f"{self.url}/organizations/v2.0/.well-known/openid-configuration"

    def env(self) -> dict[str, str]:
        return {
            "ENTRA_OPENID_CONFIG_URL": self.openid_config_url,
            "ENTRA_CLIENT_ID": CLIENT_ID,
            "ENTRA_ALLOWED_TENANTS": TENANT,
        }

    def token(
        self,
        upn: str = "admin@hospital.example",
        *,
        roles: tuple[str, ...] = (),
        tenant: str = TENANT,
        audience: str = CLIENT_ID,
        issuer: str | None = None,
        lifetime: int = 3600,
        not_before: int = 0,
        kid: str | None = None,
        key: rsa.RSAPrivateKey | None = None,
    ) -> str:
        now = int(time.time())
        kid = kid or self.current_kid
        claims: dict[str, Any] = {
            "aud": audience,
            "iss": issuer or ISSUER_TEMPLATE.replace("{tenantid}", tenant),
            "iat": now - 10,
            "nbf": now + not_before - 10,
            "exp": now + lifetime,
            "tid": tenant,
            "oid": str(uuid.uuid5(uuid.NAMESPACE_DNS, upn)),
            "preferred_username": upn,
            "roles": list(roles),
            "ver": "2.0",
        }
        signing_key = key or self.keys.get(kid) or self.keys[self.current_kid]
        return jwt.encode(claims, signing_key, algorithm="RS256", headers={"kid": kid})

    def admin_token(self, upn: str = "admin@hospital.example") -> str:
        return self.token(upn, roles=("Connector.Admin",))

    def _serve(self, request: Request) -> Response:
        if request.path.endswith("/.well-known/openid-configuration"):
            return Response.json({"issuer": ISSUER_TEMPLATE, "jwks_uri": f"{self.url}/discovery/v2.0/keys"})
        if request.path == "/discovery/v2.0/keys":
            keys = []
            for kid, key in self.keys.items():
                jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
                keys.append({**jwk, "kid": kid, "use": "sig"})
            return Response.json({"keys": keys})
        return Response(404)
