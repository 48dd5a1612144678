"""Microsoft Entra ID as our app sees it: an OpenID configuration, a JWKS, tokens, and interactive sign-in.

Keys are generated per stand-in; `token(...)` mints access tokens as Entra v2 does (RS256, `kid`,
issuer `https://login.microsoftonline.com/<tid>/v2.0`), with knobs to make each check fail. The
authorize endpoint signs in `signed_in_upn` at once (no page) and redirects back with a code; the token
endpoint checks client id, redirect URI, PKCE S256 (and the client secret when one is set) and answers
with an id_token carrying the authorize request's nonce.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from localworld.server import Request, Response, StandIn

TENANT = "11111111-1111-1111-1111-111111111111"
OTHER_TENANT = "22222222-2222-2222-2222-222222222222"
CLIENT_ID = "33333333-3333-3333-3333-333333333333"
ISSUER_TEMPLATE = "https://login.microsoftonline.com/{tenantid}/v2.0"


class EntraStandIn(StandIn):
    def __init__(self, *, port: int = 0) -> None:
        super().__init__(self._serve, port=port)
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.rotate()
        self.signed_in_upn = "dr.grey@hospital.example"
        self.client_secret: str | None = None
        self.codes: dict[str, dict[str, str]] = {}
        self.sign_in_refusals: list[str] = []

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
        nonce: str | None = None,
    ) -> str:
        """An access token; with `nonce`, an id_token of the same user (the sign-in page's answer)."""
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
        if nonce is not None:
            claims["nonce"] = nonce
        signing_key = key or self.keys.get(kid) or self.keys[self.current_kid]
        return jwt.encode(claims, signing_key, algorithm="RS256", headers={"kid": kid})

    def admin_token(self, upn: str = "admin@hospital.example") -> str:
        return self.token(upn, roles=("Connector.Admin",))

    def _serve(self, request: Request) -> Response:
        if request.path.endswith("/.well-known/openid-configuration"):
            return Response.json(
                {
                    "issuer": ISSUER_TEMPLATE,
                    "jwks_uri": f"{self.url}/discovery/v2.0/keys",
                    "authorization_endpoint": f"{self.url}/organizations/oauth2/v2.0/authorize",
                    "token_endpoint": f"{self.url}/organizations/oauth2/v2.0/token",
                }
            )
        if request.path == "/organizations/oauth2/v2.0/authorize":
            return self._authorize(request.query)
        if request.path == "/organizations/oauth2/v2.0/token" and request.method == "POST":
            return self._token(dict(parse_qsl(request.body.decode())))
        if request.path == "/discovery/v2.0/keys":
            keys = []
            for kid, key in self.keys.items():
                jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
                keys.append({**jwk, "kid": kid, "use": "sig"})
            return Response.json({"keys": keys})
        return Response(404)

    def _authorize(self, query: dict[str, str]) -> Response:
        if (
            query.get("client_id") != CLIENT_ID
            or query.get("response_type") != "code"
            or query.get("code_challenge_method") != "S256"
            or "openid" not in query.get("scope", "").split()
        ):
            return Response(400, "bad authorize request")
        code = secrets.token_urlsafe(16)
        self.codes[code] = {**query, "upn": self.signed_in_upn}
        target = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
        return Response(302, headers={"Location": target})

    def _token(self, form: dict[str, str]) -> Response:
        authorize = self.codes.pop(form.get("code", ""), None)
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if (
            authorize is None
            or form.get("client_id") != CLIENT_ID
            or form.get("redirect_uri") != authorize["redirect_uri"]
            or challenge != authorize["code_challenge"]
            or (self.client_secret is not None and form.get("client_secret") != self.client_secret)
        ):
            self.sign_in_refusals.append(form.get("code", ""))
            return Response.json({"error": "invalid_grant"}, status=400)
        now = int(time.time())
        upn = authorize["upn"]
        claims = {
            "aud": CLIENT_ID,
            "iss": ISSUER_TEMPLATE.replace("{tenantid}", TENANT),
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "tid": TENANT,
            "oid": self.object_id(upn),
            "preferred_username": upn,
            "nonce": authorize.get("nonce"),
            "ver": "2.0",
        }
        id_token = jwt.encode(claims, self.keys[self.current_kid], algorithm="RS256", headers={"kid": self.current_kid})
        return Response.json({"token_type": "Bearer", "id_token": id_token, "access_token": secrets.token_urlsafe(16)})

    @staticmethod
    def object_id(upn: str) -> str:
        """The Entra object id this stand-in gives a user."""
        return str(uuid.uuid5(uuid.NAMESPACE_DNS, upn))
