"""Microsoft Entra ID for our app registration: config API access tokens, and the provider's sign-in.

Access tokens of both formats an app registration can be set to issue are accepted, because the
default (`accessTokenAcceptedVersion` null) is v1.0 and many registrations keep it (Microsoft identity
platform, "Access tokens", learn.microsoft.com/entra/identity-platform/access-tokens):

* v1.0 (`ver` "1.0"): issuer `https://sts.windows.net/{tid}/`, checked against the tenant's v1.0 OpenID
  configuration `{authority}/{tid}/.well-known/openid-configuration`;
* v2.0 (`ver` "2.0"): issuer `https://login.microsoftonline.com/{tid}/v2.0`, checked against
  `{authority}/{tid}/v2.0/.well-known/openid-configuration`.

Either way: RS256 signature by a key of that configuration's `jwks_uri` (cached, fetched again when a
token names an unknown `kid`, at most once per `REFRESH_FLOOR_SECONDS`), the issuer exactly as the
tenant's configuration publishes it, audience our client id or its Application ID URI `api://{client id}`
(v1.0 tokens carry the one the client asked for), expiry and not-before, a GUID `tid` that is an allowed
tenant, and an `oid`. The provider's one-time sign-in (authorization code with PKCE, then its id_token)
goes through the tenant's own v2.0 authority, never `organizations`, which a single-tenant registration
refuses (AADSTS50194).
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import jwt

from shared.adapters.http_client import get_json, post_form
from shared.adapters.jwks import REFRESH_FLOOR_SECONDS, JwksCache
from shared.domain.access import Caller
from shared.errors import NotAuthorisedError, UpstreamError
from shared.settings import EntraSettings

logger = logging.getLogger(__name__)

LEEWAY_SECONDS = 60
ALGORITHMS = ["RS256"]
SIGN_IN_SCOPE = "openid profile"
"""Enough for an id_token with the user's object id (`oid`) and UPN (`preferred_username`)."""
API_SCOPE_NAME = "Connector.Config"
"""The delegated scope the app registration exposes for its own API (README "Portal")."""
TOKEN_VERSIONS = {"1.0": "", "2.0": "/v2.0"}
"""Access token `ver` -> the path segment of the OpenID configuration that validates it."""
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class _Authority:
    """What one tenant's OpenID configuration (of one version) says."""

    issuer: str
    jwks_uri: str
    authorization_endpoint: str | None
    token_endpoint: str | None


class EntraTokenValidator:
    """Validates bearer tokens of our app registration; thread-safe, one per process."""

    def __init__(self, settings: EntraSettings, *, refresh_floor_seconds: float = REFRESH_FLOOR_SECONDS) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._authorities: dict[tuple[str, str], _Authority] = {}
        self._jwks = JwksCache(what="Entra signing keys", refresh_floor_seconds=refresh_floor_seconds)
        self._audiences = [settings.client_id, f"api://{settings.client_id}"]

    def validate(self, authorization: str | None) -> Caller:
        """The caller of an `Authorization: Bearer` header. Raises NotAuthorisedError saying what is wrong."""
        if not authorization:
            raise NotAuthorisedError("An Entra ID access token is required (Authorization: Bearer ...).")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorisedError("The Authorization header must be 'Bearer <access token>'.")
        token = token.strip()
        header, unverified = _unverified(token, "access token")
        version = str(unverified.get("ver", ""))
        if version not in TOKEN_VERSIONS:
            raise NotAuthorisedError("The access token is neither a v1.0 nor a v2.0 Entra access token (ver).")
        tenant = self._allowed_tenant(unverified, "access token")
        claims = self._decode(token, header, tenant, version, self._audiences, "access token")
        return _caller(claims)

    def sign_in_url(
        self,
        *,
        tenant_id: str,
        redirect_uri: str,
        state: str,
        code_challenge: str,
        nonce: str,
        scope: str = SIGN_IN_SCOPE,
    ) -> str:
        """The authorize URL of tenant `tenant_id`'s own authority for an interactive sign-in (code flow,
        PKCE S256). Raises NotAuthorisedError (tenant not allowed), UpstreamError."""
        query = {
            "client_id": self._settings.client_id,
            "response_type": "code",
            "redirect_uri": redirect_uri,
            "response_mode": "query",
            "scope": scope,
            "state": state,
            "nonce": nonce,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        return f"{self._endpoint(tenant_id, 'authorization_endpoint')}?{urlencode(query)}"

    def redeem_sign_in(self, *, tenant_id: str, code: str, redirect_uri: str, code_verifier: str, nonce: str) -> Caller:
        """The signed-in user of an authorization code from tenant `tenant_id`: redeemed, and its id_token
        validated (issued by that tenant, for our client id, with our nonce).

        Raises NotAuthorisedError (code refused, id_token invalid, wrong nonce or tenant), UpstreamError.
        """
        document = self._redeem(tenant_id, code, redirect_uri, code_verifier, SIGN_IN_SCOPE)
        return _caller(self._id_token_claims(tenant_id, document, nonce))

    def redeem_api_sign_in(
        self, *, tenant_id: str, code: str, redirect_uri: str, code_verifier: str, nonce: str
    ) -> Caller:
        """The caller of the portal's sign-in (scope `api_sign_in_scope()`): the id_token proves this sign-in
        (nonce, tenant), the access token is validated exactly as a configuration API call's, so the portal's
        caller has the same roles as theirs would. Neither token is kept.

        Raises NotAuthorisedError (code refused, a token invalid, wrong nonce or tenant), UpstreamError.
        """
        document = self._redeem(tenant_id, code, redirect_uri, code_verifier, self.api_sign_in_scope())
        self._id_token_claims(tenant_id, document, nonce)
        access_token = document.get("access_token")
        if not isinstance(access_token, str):
            raise NotAuthorisedError("Microsoft 365 did not complete the sign-in (no access_token).")
        caller = self.validate(f"Bearer {access_token}")
        if caller.tenant_id != tenant_id.lower():
            raise NotAuthorisedError("The sign-in's access token is of another tenant than its authority's.")
        return caller

    def api_sign_in_scope(self) -> str:
        """An id_token plus an access token for this app's own API (its `Connector.Config` scope)."""
        return f"{SIGN_IN_SCOPE} api://{self._settings.client_id}/{API_SCOPE_NAME}"

    def _redeem(self, tenant_id: str, code: str, redirect_uri: str, code_verifier: str, scope: str) -> dict[str, Any]:
        form = {
            "client_id": self._settings.client_id,
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
            "scope": scope,
        }
        if self._settings.client_secret:
            form["client_secret"] = self._settings.client_secret
        status, document = post_form(self._endpoint(tenant_id, "token_endpoint"), form, what="Entra token endpoint")
        if status >= 400 or not isinstance(document.get("id_token"), str):
            error = str(document.get("error", "no id_token"))[:64]
            raise NotAuthorisedError(f"Microsoft 365 did not complete the sign-in ({error}).")
        return document

    def _id_token_claims(self, tenant_id: str, document: dict[str, Any], nonce: str) -> dict[str, Any]:
        id_token = document["id_token"]
        header, unverified = _unverified(id_token, "sign-in's id_token")
        if str(unverified.get("tid", "")).lower() != tenant_id.lower():
            raise NotAuthorisedError("The sign-in's id_token is of another tenant than the organisation's.")
        claims = self._decode(
            id_token, header, tenant_id.lower(), "2.0", [self._settings.client_id], "sign-in's id_token"
        )
        if claims.get("nonce") != nonce:
            raise NotAuthorisedError("The sign-in's id_token belongs to another sign-in (nonce).")
        return claims

    def _allowed_tenant(self, unverified: dict[str, Any], what: str) -> str:
        tenant = str(unverified.get("tid", "")).lower()
        if not _GUID.fullmatch(tenant) or tenant not in self._settings.allowed_tenants:
            raise NotAuthorisedError(f"The {what}'s tenant is not allowed to use this connector.")
        return tenant

    def _decode(
        self, token: str, header: dict[str, Any], tenant: str, version: str, audiences: list[str], what: str
    ) -> dict[str, Any]:
        authority = self._authority(tenant, version)
        key = self._key(authority.jwks_uri, str(header.get("kid", "")), what)
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=ALGORITHMS,
                audience=audiences,
                issuer=authority.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "aud", "iss", "tid", "oid"]},
            )
        except jwt.MissingRequiredClaimError as exc:
            raise NotAuthorisedError(f"The {what} lacks the claim {exc.claim}.") from exc
        except jwt.ExpiredSignatureError as exc:
            raise NotAuthorisedError(f"The {what} has expired.") from exc
        except jwt.ImmatureSignatureError as exc:
            raise NotAuthorisedError(f"The {what} is not valid yet.") from exc
        except jwt.InvalidAudienceError as exc:
            raise NotAuthorisedError(f"The {what} is not meant for this connector (audience).") from exc
        except jwt.InvalidIssuerError as exc:
            raise NotAuthorisedError(f"The {what} was not issued by the expected Entra tenant.") from exc
        except jwt.InvalidSignatureError as exc:
            raise NotAuthorisedError(f"The {what}'s signature is not valid.") from exc
        except jwt.PyJWTError as exc:
            raise NotAuthorisedError(f"The {what} is not valid.") from exc
        if str(claims["tid"]).lower() != tenant:
            raise NotAuthorisedError(f"The {what}'s tenant does not match its issuer.")
        return claims

    def _endpoint(self, tenant: str, name: str) -> str:
        if tenant.lower() not in self._settings.allowed_tenants:
            raise NotAuthorisedError("The organisation's tenant is not allowed to use this connector.")
        authority = self._authority(tenant.lower(), "2.0")
        url = getattr(authority, name)
        if not url:
            raise UpstreamError(f"The Entra OpenID configuration names no {name}.", retryable=False)
        return url

    def _authority(self, tenant: str, version: str) -> _Authority:
        """The tenant's OpenID configuration of token version `version`, read once per process."""
        with self._lock:
            known = self._authorities.get((tenant, version))
            if known is None:
                path = f"{tenant}{TOKEN_VERSIONS[version]}/.well-known/openid-configuration"
                url = f"{self._settings.authority_host}/{path}"
                document = get_json(url, what="Entra OpenID configuration")
                issuer, jwks_uri = document.get("issuer"), document.get("jwks_uri")
                if not isinstance(issuer, str) or not isinstance(jwks_uri, str):
                    raise UpstreamError("The Entra OpenID configuration names no issuer or jwks_uri.", retryable=False)
                known = _Authority(
                    issuer,
                    jwks_uri,
                    _text(document.get("authorization_endpoint")),
                    _text(document.get("token_endpoint")),
                )
                self._authorities[(tenant, version)] = known
            return known

    def _key(self, jwks_uri: str, kid: str, what: str) -> jwt.PyJWK:
        keys = [key for key in self._jwks.keys(jwks_uri, kid) if key.key_type == "RSA"]
        if not keys:
            raise NotAuthorisedError(f"The {what} is signed with a key Entra ID does not publish.")
        return keys[0]


def _unverified(token: str, what: str) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise NotAuthorisedError(f"The {what} is not a well-formed JWT.") from exc


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _caller(claims: dict[str, Any]) -> Caller:
    # v2.0 tokens name the user in preferred_username, v1.0 tokens in upn (unique_name for guests).
    upn = claims.get("preferred_username") or claims.get("upn") or claims.get("unique_name") or ""
    roles = claims.get("roles") or []
    return Caller(
        upn=str(upn).lower(),
        object_id=str(claims.get("oid", "")).lower(),
        tenant_id=str(claims.get("tid", "")).lower(),
        roles=frozenset(str(r) for r in roles) if isinstance(roles, list) else frozenset(),
    )
