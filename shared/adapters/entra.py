"""Microsoft Entra ID for our app registration: config API access tokens, and the provider's sign-in.

Access tokens (configuration API) and id_tokens (the provider's one-time sign-in at launch, an
authorization code flow with PKCE) are validated with PyJWT against the same OpenID configuration.
Signing keys come from the JWKS it names; they are cached and fetched again when a token names an
unknown `kid` (Entra rolls keys), at most once per `REFRESH_FLOOR_SECONDS`. Checks: RS256 signature,
issuer, audience (our client id), expiry and not-before, allowed tenant, and for id_tokens the nonce.
"""

from __future__ import annotations

import logging
import threading
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


class EntraTokenValidator:
    """Validates bearer tokens against one Entra configuration; thread-safe, one per process."""

    def __init__(self, settings: EntraSettings, *, refresh_floor_seconds: float = REFRESH_FLOOR_SECONDS) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._issuer: str | None = None
        self._jwks_uri: str | None = None
        self._endpoints: dict[str, str] = {}
        self._jwks = JwksCache(what="Entra signing keys", refresh_floor_seconds=refresh_floor_seconds)

    def validate(self, authorization: str | None) -> Caller:
        """The caller of an `Authorization: Bearer` header. Raises NotAuthorisedError saying what is wrong."""
        if not authorization:
            raise NotAuthorisedError("An Entra ID access token is required (Authorization: Bearer ...).")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorisedError("The Authorization header must be 'Bearer <access token>'.")
        token = token.strip()
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise NotAuthorisedError("The access token is not a well-formed JWT.") from exc
        return _caller(self._decode(token, unverified, str(header.get("kid", "")), "access token"))

    def sign_in_url(self, *, redirect_uri: str, state: str, code_challenge: str, nonce: str) -> str:
        """Entra's authorize URL for an interactive sign-in (code flow, PKCE S256). Raises UpstreamError."""
        query = {
            "client_id": self._settings.client_id,
            "response_type": "code",
            "redirect_uri": redirect_uri,
            "response_mode": "query",
            "scope": SIGN_IN_SCOPE,
            "state": state,
            "nonce": nonce,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        return f"{self._endpoint('authorization_endpoint')}?{urlencode(query)}"

    def redeem_sign_in(self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str) -> Caller:
        """The signed-in user of an authorization code: redeemed, and its id_token validated.

        Raises NotAuthorisedError (code refused, id_token invalid, wrong nonce or tenant), UpstreamError.
        """
        form = {
            "client_id": self._settings.client_id,
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
            "scope": SIGN_IN_SCOPE,
        }
        if self._settings.client_secret:
            form["client_secret"] = self._settings.client_secret
        status, document = post_form(self._endpoint("token_endpoint"), form, what="Entra token endpoint")
        id_token = document.get("id_token")
        if status >= 400 or not isinstance(id_token, str):
            error = str(document.get("error", "no id_token"))[:64]
            raise NotAuthorisedError(f"Microsoft 365 did not complete the sign-in ({error}).")
        try:
            header = jwt.get_unverified_header(id_token)
            unverified = jwt.decode(id_token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise NotAuthorisedError("The sign-in's id_token is not a well-formed JWT.") from exc
        claims = self._decode(id_token, unverified, str(header.get("kid", "")), "id_token")
        if claims.get("nonce") != nonce:
            raise NotAuthorisedError("The sign-in's id_token belongs to another sign-in (nonce).")
        caller = _caller(claims)
        if not caller.object_id:
            raise NotAuthorisedError("The sign-in's id_token names no user (oid).")
        return caller

    def _decode(self, token: str, unverified: dict[str, Any], kid: str, what: str) -> dict[str, Any]:
        tenant = str(unverified.get("tid", "")).lower()
        if tenant not in self._settings.allowed_tenants:
            raise NotAuthorisedError(f"The {what}'s tenant is not allowed to use this connector.")
        key = self._key(kid)
        try:
            return jwt.decode(
                token,
                key=key,
                algorithms=ALGORITHMS,
                audience=self._settings.client_id,
                issuer=self._expected_issuer(tenant),
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "aud", "iss", "tid"]},
            )
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

    def _endpoint(self, name: str) -> str:
        with self._lock:
            self._discover()
        url = self._endpoints.get(name)
        if not url:
            raise UpstreamError(f"The Entra OpenID configuration names no {name}.", retryable=False)
        return url

    def _expected_issuer(self, tenant: str) -> str:
        self._discover()
        assert self._issuer is not None
        # Multi-tenant configurations ("organizations") publish the issuer with a {tenantid} template.
        return self._issuer.replace("{tenantid}", tenant)

    def _discover(self) -> None:
        if self._jwks_uri is None:
            document = get_json(self._settings.openid_config_url, what="Entra OpenID configuration")
            issuer, jwks_uri = document.get("issuer"), document.get("jwks_uri")
            if not isinstance(issuer, str) or not isinstance(jwks_uri, str):
                raise NotAuthorisedError("The Entra OpenID configuration names no issuer or jwks_uri.")
            self._issuer, self._jwks_uri = issuer, jwks_uri
            self._endpoints = {
                name: document[name]
                for name in ("authorization_endpoint", "token_endpoint")
                if isinstance(document.get(name), str)
            }

    def _key(self, kid: str) -> jwt.PyJWK:
        with self._lock:
            self._discover()
        keys = [key for key in self._jwks.keys(self._jwks_uri or "", kid) if key.key_type == "RSA"]
        if not keys:
            raise NotAuthorisedError("The access token is signed with a key Entra ID does not publish.")
        return keys[0]


def _caller(claims: dict[str, Any]) -> Caller:
    upn = claims.get("preferred_username") or claims.get("upn") or ""
    roles = claims.get("roles") or []
    return Caller(
        upn=str(upn).lower(),
        object_id=str(claims.get("oid", "")),
        tenant_id=str(claims.get("tid", "")).lower(),
        roles=frozenset(str(r) for r in roles) if isinstance(roles, list) else frozenset(),
    )
