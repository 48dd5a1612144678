"""Microsoft Entra ID as our app registration sees it: per-tenant OpenID configurations, keys, tokens, sign-in.

Shapes, from the Microsoft identity platform documentation (MicrosoftDocs/entra-docs):

* `docs/identity-platform/access-tokens.md`, "v1.0 and v2.0 tokens" and "Validate the issuer": a v1.0 token
  is checked against `/{tenant}/.well-known/openid-configuration` (issuer `https://sts.windows.net/{tid}/`),
  a v2.0 token against `/{tenant}/v2.0/.well-known/openid-configuration` (issuer
  `https://login.microsoftonline.com/{tid}/v2.0`); which one an app's access tokens are is its manifest's
  `accessTokenAcceptedVersion` (`requestedAccessTokenVersion` in the Graph application object): null or 1
  gives v1.0, 2 gives v2.0.
* `docs/identity-platform/access-token-claims-reference.md`: `aud` is always the client id in v2.0 tokens and
  the client id or the Application ID URI (`api://{client id}`) in v1.0 tokens; v1.0 tokens carry `upn`,
  `unique_name` and `appid`, v2.0 tokens `preferred_username` and `azp`; both carry `oid`, `tid`, `roles`,
  `ver`.
* `docs/identity-platform/id-token-claims-reference.md`: the id_token of a v2.0 sign-in (`aud` = client id,
  `nonce`, `oid`, `tid`, `preferred_username`).

The app registration played here is single-tenant (the usual line-of-business registration): the
`organizations` and `common` authorities refuse it with AADSTS50194, as Entra does. Unknown tenants get
AADSTS90002. The authorize endpoint signs in `signed_in_upn` at once (no page; world's `entra_signin.py`
adds one) and redirects back with a code; the token endpoint checks client id, redirect URI, PKCE S256 (and
the client secret when one is set) and answers with an id_token of the authority's tenant.
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
APP_ID_URI = f"api://{CLIENT_ID}"
V1_ISSUER = "https://sts.windows.net/{tid}/"
V2_ISSUER = "https://login.microsoftonline.com/{tid}/v2.0"
MULTI_TENANT_AUTHORITIES = ("organizations", "common", "consumers")
ADMIN_ROLE = "Connector.Admin"
REPORT_READER_ROLE = "Connector.ReportReader"


class EntraStandIn(StandIn):
    def __init__(self, tenants: tuple[str, ...] = (TENANT, OTHER_TENANT), *, port: int = 0) -> None:
        super().__init__(self._serve, port=port)
        self.tenants = set(tenants)
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

    def env(self, tenants: tuple[str, ...] = (TENANT,)) -> dict[str, str]:
        return {
            "ENTRA_AUTHORITY_HOST": self.url,
            "ENTRA_CLIENT_ID": CLIENT_ID,
            "ENTRA_ALLOWED_TENANTS": ",".join(tenants),
        }

    def token(
        self,
        upn: str = "admin@hospital.example",
        *,
        roles: tuple[str, ...] = (),
        tenant: str = TENANT,
        version: int = 2,
        audience: str | None = None,
        issuer: str | None = None,
        lifetime: int = 3600,
        not_before: int = 0,
        kid: str | None = None,
        key: rsa.RSAPrivateKey | None = None,
        object_id: str | None = None,
        nonce: str | None = None,
    ) -> str:
        """An access token for our API as Entra issues it in `version` 1 or 2 (claims reference above); with
        `nonce`, the v2.0 id_token of the same user (the sign-in's answer)."""
        now = int(time.time())
        kid = kid or self.current_kid
        claims: dict[str, Any] = {
            "iat": now - 10,
            "nbf": now + not_before - 10,
            "exp": now + lifetime,
            "tid": tenant,
            "oid": object_id or self.object_id(upn, tenant),
            "sub": secrets.token_urlsafe(16),
            "roles": list(roles),
        }
        if version == 1:
            claims |= {
                "aud": audience or APP_ID_URI,
                "iss": issuer or V1_ISSUER.format(tid=tenant),
                "upn": upn,
                "unique_name": upn,
                "appid": CLIENT_ID,
                "ver": "1.0",
            }
        else:
            claims |= {
                "aud": audience or CLIENT_ID,
                "iss": issuer or V2_ISSUER.format(tid=tenant),
                "preferred_username": upn,
                "azp": CLIENT_ID,
                "ver": "2.0",
            }
        if nonce is not None:
            claims["nonce"] = nonce
        signing_key = key or self.keys.get(kid) or self.keys[self.current_kid]
        return jwt.encode(claims, signing_key, algorithm="RS256", headers={"kid": kid, "typ": "JWT"})

    def admin_token(self, upn: str = "admin@hospital.example", tenant: str = TENANT) -> str:
        return self.token(upn, roles=(ADMIN_ROLE,), tenant=tenant)

    @staticmethod
    def object_id(upn: str, tenant: str = TENANT) -> str:
        """The Entra object id this stand-in gives a user: one per tenant, as a user of two tenants has two."""
        return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{tenant}/{upn}"))

    def _serve(self, request: Request) -> Response:
        tenant, _, rest = request.path.lstrip("/").partition("/")
        if (tenant, rest) == ("common", "discovery/keys") or rest == "discovery/v2.0/keys":
            return self._keys()
        if tenant in MULTI_TENANT_AUTHORITIES:
            return self._error(
                400,
                "invalid_request",
                "AADSTS50194: Application is not configured as a multi-tenant application. Usage of the "
                f"/{tenant} endpoint is not supported for such applications. Use a tenant-specific endpoint.",
            )
        if tenant not in self.tenants:
            return self._error(400, "invalid_tenant", f"AADSTS90002: Tenant '{tenant[:40]}' not found.")
        if rest == ".well-known/openid-configuration":
            return Response.json(self._configuration(tenant, version=1))
        if rest == "v2.0/.well-known/openid-configuration":
            return Response.json(self._configuration(tenant, version=2))
        if rest == "oauth2/v2.0/authorize":
            return self._authorize(tenant, request.query)
        if rest == "oauth2/v2.0/token" and request.method == "POST":
            return self._token(tenant, dict(parse_qsl(request.body.decode())))
        return Response(404)

    def _configuration(self, tenant: str, *, version: int) -> dict[str, Any]:
        """The tenant's OpenID configuration of one endpoint version (fields our app reads)."""
        if version == 1:
            return {
                "issuer": V1_ISSUER.format(tid=tenant),
                "jwks_uri": f"{self.url}/common/discovery/keys",
                "authorization_endpoint": f"{self.url}/{tenant}/oauth2/authorize",
                "token_endpoint": f"{self.url}/{tenant}/oauth2/token",
            }
        return {
            "issuer": V2_ISSUER.format(tid=tenant),
            "jwks_uri": f"{self.url}/{tenant}/discovery/v2.0/keys",
            "authorization_endpoint": f"{self.url}/{tenant}/oauth2/v2.0/authorize",
            "token_endpoint": f"{self.url}/{tenant}/oauth2/v2.0/token",
        }

    def _keys(self) -> Response:
        keys = []
        for kid, key in self.keys.items():
            jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
            keys.append({**jwk, "kid": kid, "use": "sig"})
        return Response.json({"keys": keys})

    @staticmethod
    def _error(status: int, error: str, description: str) -> Response:
        return Response.json({"error": error, "error_description": description}, status=status)

    def _authorize(self, tenant: str, query: dict[str, str]) -> Response:
        if (
            query.get("client_id") != CLIENT_ID
            or query.get("response_type") != "code"
            or query.get("code_challenge_method") != "S256"
            or "openid" not in query.get("scope", "").split()
        ):
            return Response(400, "bad authorize request")
        code = secrets.token_urlsafe(16)
        self.codes[code] = {**query, "upn": self.signed_in_upn, "tenant": tenant}
        target = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
        return Response(302, headers={"Location": target})

    def _token(self, tenant: str, form: dict[str, str]) -> Response:
        authorize = self.codes.pop(form.get("code", ""), None)
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if (
            authorize is None
            or authorize["tenant"] != tenant
            or form.get("client_id") != CLIENT_ID
            or form.get("redirect_uri") != authorize["redirect_uri"]
            or challenge != authorize["code_challenge"]
            or (self.client_secret is not None and form.get("client_secret") != self.client_secret)
        ):
            self.sign_in_refusals.append(form.get("code", ""))
            return self._error(400, "invalid_grant", "AADSTS70000: The provided authorization code is invalid.")
        id_token = self.token(authorize["upn"], tenant=tenant, nonce=authorize.get("nonce", ""))
        return Response.json({"token_type": "Bearer", "id_token": id_token, "access_token": secrets.token_urlsafe(16)})
