"""Validate Microsoft Entra ID access tokens for the configuration API, with PyJWT.

Signing keys come from the JWKS named by the OpenID configuration; they are cached and fetched again
when a token names an unknown `kid` (Entra rolls keys), at most once per `REFRESH_FLOOR_SECONDS`.
Checks: RS256 signature, issuer, audience (our client id), expiry and not-before, allowed tenant.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import jwt

from shared.adapters.http_client import get_json
from shared.adapters.jwks import REFRESH_FLOOR_SECONDS, JwksCache
from shared.domain.access import Caller
from shared.errors import NotAuthorisedError
from shared.settings import EntraSettings

logger = logging.getLogger(__name__)

LEEWAY_SECONDS = 60
ALGORITHMS = ["RS256"]


class EntraTokenValidator:
    """Validates bearer tokens against one Entra configuration; thread-safe, one per process."""

    def __init__(self, settings: EntraSettings, *, refresh_floor_seconds: float = REFRESH_FLOOR_SECONDS) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._issuer: str | None = None
        self._jwks_uri: str | None = None
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
        tenant = str(unverified.get("tid", "")).lower()
        if tenant not in self._settings.allowed_tenants:
            raise NotAuthorisedError("The access token's tenant is not allowed to use this connector.")
        key = self._key(str(header.get("kid", "")))
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=ALGORITHMS,
                audience=self._settings.client_id,
                issuer=self._expected_issuer(tenant),
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "aud", "iss", "tid"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise NotAuthorisedError("The access token has expired.") from exc
        except jwt.ImmatureSignatureError as exc:
            raise NotAuthorisedError("The access token is not valid yet.") from exc
        except jwt.InvalidAudienceError as exc:
            raise NotAuthorisedError("The access token is not meant for this connector (audience).") from exc
        except jwt.InvalidIssuerError as exc:
            raise NotAuthorisedError("The access token was not issued by the expected Entra tenant.") from exc
        except jwt.InvalidSignatureError as exc:
            raise NotAuthorisedError("The access token's signature is not valid.") from exc
        except jwt.PyJWTError as exc:
            raise NotAuthorisedError("The access token is not valid.") from exc
        return _caller(claims)

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
