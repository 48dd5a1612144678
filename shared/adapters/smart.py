"""SMART App Launch client pieces for Epic: discovery, authorize URL with PKCE, token exchange.

We are a confidential client that authenticates with `private_key_jwt` (RFC 7523): a client
assertion signed RS384 with our private key, whose public half we publish as a JWKS
(`GET /api/.well-known/jwks.json`). The launch feature reuses all of this.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from shared.adapters.http_client import get_json, post_form, post_json
from shared.errors import InvalidRequestError, SettingsError, UpstreamError
from shared.loopback import is_loopback
from shared.settings import EpicSettings

DISCOVERY_TTL_SECONDS = 300
ASSERTION_LIFETIME_SECONDS = 240
"""Epic refuses client assertions that live longer than 5 minutes."""
ASSERTION_ALGORITHM = "RS384"


@dataclass(frozen=True)
class SmartConfiguration:
    authorization_endpoint: str
    token_endpoint: str


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Any  # cryptography RSAPrivateKey

    def public_jwk(self) -> dict[str, str]:
        numbers = self.private_key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "n": _b64url_int(numbers.n),
            "e": _b64url_int(numbers.e),
            "kid": self.kid,
            "alg": ASSERTION_ALGORITHM,
            "use": "sig",
        }


def load_signing_key(value: str, setting: str) -> SigningKey:
    """A private key from PEM text or a PEM file path; kid is its RFC 7638 thumbprint.

    Raises SettingsError naming `setting` (never showing the value) when it is not an RSA private key.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    text = value.strip()
    if not text.startswith("-----BEGIN"):
        path = Path(text)
        if not path.is_file():
            raise SettingsError(f"Setting {setting} is neither PEM text nor the path of a PEM file.")
        text = path.read_text(encoding="ascii")
    try:
        key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeEncodeError):
        raise SettingsError(f"Setting {setting} is not an unencrypted PEM private key.") from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
        raise SettingsError(f"Setting {setting} must be an RSA private key of at least 2048 bits (RS384).")
    numbers = key.public_key().public_numbers()
    canonical = json.dumps(
        {"e": _b64url_int(numbers.e), "kty": "RSA", "n": _b64url_int(numbers.n)}, separators=(",", ":")
    )
    kid = _b64url(hashlib.sha256(canonical.encode()).digest())
    return SigningKey(kid, key)


def signing_keys(epic: EpicSettings) -> list[SigningKey]:
    """Our current key first, then the next one (rotation) if set."""
    keys = [load_signing_key(epic.private_key, "EPIC_PRIVATE_KEY")]
    if epic.private_key_next:
        keys.append(load_signing_key(epic.private_key_next, "EPIC_PRIVATE_KEY_NEXT"))
    return keys


def new_pkce() -> tuple[str, str]:
    """A PKCE code verifier and its S256 challenge (RFC 7636)."""
    verifier = secrets.token_urlsafe(48)
    return verifier, _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


class SmartClient:
    """Talks SMART to FHIR servers on behalf of one Epic app registration."""

    def __init__(self, client_id: str, key: SigningKey, *, loopback_http: bool = False) -> None:
        """`loopback_http` (setting LOOPBACK_HTTP): SMART endpoints on 127.0.0.1/localhost may use http."""
        self.client_id = client_id
        self._key = key
        self._loopback_http = loopback_http
        self._lock = threading.Lock()
        self._discovered: dict[str, tuple[float, SmartConfiguration]] = {}

    def discover(self, fhir_base_url: str) -> SmartConfiguration:
        """`<base>/.well-known/smart-configuration`, cached per base. Raises UpstreamError."""
        with self._lock:
            cached = self._discovered.get(fhir_base_url)
            if cached and time.monotonic() - cached[0] < DISCOVERY_TTL_SECONDS:
                return cached[1]
        document = get_json(f"{fhir_base_url}/.well-known/smart-configuration", what="SMART discovery")
        authorize, token = document.get("authorization_endpoint"), document.get("token_endpoint")
        if not (self._allowed(authorize) and self._allowed(token)):
            raise UpstreamError("SMART discovery names no https authorization and token endpoints.", retryable=False)
        found = SmartConfiguration(authorize, token)
        with self._lock:
            self._discovered[fhir_base_url] = (time.monotonic(), found)
        return found

    def _allowed(self, url: object) -> bool:
        if not isinstance(url, str):
            return False
        parts = urlsplit(url)
        local = self._loopback_http and parts.scheme == "http" and is_loopback(parts.hostname)
        return parts.scheme == "https" or local

    def authorize_url(
        self,
        config: SmartConfiguration,
        *,
        redirect_uri: str,
        state: str,
        code_challenge: str,
        aud: str,
        scope: str,
        launch: str | None = None,
    ) -> str:
        """Epic's authorize URL; `launch` is the EHR launch's opaque id, which Epic wants back (SMART EHR launch)."""
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": scope,
            "state": state,
            "aud": aud,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        if launch is not None:
            query["launch"] = launch
        separator = "&" if "?" in config.authorization_endpoint else "?"
        return f"{config.authorization_endpoint}{separator}{urlencode(query)}"

    def exchange_code(self, token_endpoint: str, *, code: str, redirect_uri: str, code_verifier: str) -> dict[str, Any]:
        """Trade an authorization code for tokens. Raises InvalidRequestError when Epic refuses the grant,
        UpstreamError when Epic fails."""
        status, document = post_form(
            token_endpoint,
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": self.client_assertion(token_endpoint),
            },
            what="Epic token endpoint",
        )
        if status >= 400:
            error = str(document.get("error", "invalid_request"))[:64]
            raise InvalidRequestError(f"Epic refused the sign-in ({error}).")
        if not document.get("access_token"):
            raise UpstreamError("Epic's token endpoint answered without an access token.", retryable=False)
        return document

    def backend_token(self, token_endpoint: str, scope: str) -> tuple[str, int]:
        """A backend (system) access token and its lifetime in seconds: the client-credentials grant with
        our `private_key_jwt` assertion (SMART Backend Services). Raises UpstreamError (not retryable when
        Epic refuses the grant: the app registration lacks the scope or our key)."""
        status, document = post_form(
            token_endpoint,
            {
                "grant_type": "client_credentials",
                "scope": scope,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": self.client_assertion(token_endpoint),
            },
            what="Epic token endpoint",
        )
        token = document.get("access_token")
        if status >= 400 or not isinstance(token, str) or not token:
            error = str(document.get("error", "no access token"))[:64]
            raise UpstreamError(f"Epic refused our backend client ({error}).", retryable=False)
        expires_in = document.get("expires_in")
        return token, expires_in if isinstance(expires_in, int) and expires_in > 0 else 300

    def create(
        self, fhir_base_url: str, resource: dict[str, Any], access_token: str, *, if_none_exist: str | None = None
    ) -> dict[str, Any]:
        """POST a FHIR resource (conditional create with `if_none_exist`, so a retry creates nothing twice).
        Raises UpstreamError (retryable for 429, 5xx and network failures)."""
        resource_type = resource["resourceType"]
        return post_json(
            f"{fhir_base_url}/{resource_type}",
            resource,
            what=f"Epic FHIR {resource_type} create",
            bearer=access_token,
            headers={"If-None-Exist": if_none_exist} if if_none_exist else None,
        )

    def read(self, fhir_base_url: str, resource_type: str, resource_id: str, access_token: str) -> dict[str, Any]:
        """One FHIR resource read with the launch's access token (kept for this request only).

        Raises UpstreamError (retryable for 429, 5xx and network failures).
        """
        url = f"{fhir_base_url}/{resource_type}/{quote(resource_id, safe='')}"
        return get_json(url, what=f"Epic FHIR {resource_type} read", bearer=access_token)

    def search(
        self, fhir_base_url: str, resource_type: str, params: dict[str, str], access_token: str
    ) -> list[dict[str, Any]]:
        """The matches of a FHIR search (the `searchset` Bundle's `match` entries, first page) read with the
        launch's access token. Raises UpstreamError (retryable for 429, 5xx and network failures)."""
        bundle = get_json(
            f"{fhir_base_url}/{resource_type}",
            what=f"Epic FHIR {resource_type} search",
            bearer=access_token,
            params=params,
        )
        if bundle.get("resourceType") != "Bundle":
            raise UpstreamError(f"Epic's {resource_type} search did not answer with a Bundle.", retryable=False)
        return [
            entry["resource"]
            for entry in bundle.get("entry") or ()
            if isinstance(entry, dict)
            and isinstance(entry.get("resource"), dict)
            and entry["resource"].get("resourceType") == resource_type
            and (entry.get("search") or {}).get("mode", "match") == "match"
        ]

    def client_assertion(self, token_endpoint: str) -> str:
        import jwt

        now = int(time.time())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": token_endpoint,
            "jti": str(uuid.uuid4()),
            "iat": now,
            "nbf": now,
            "exp": now + ASSERTION_LIFETIME_SECONDS,
        }
        return jwt.encode(claims, self._key.private_key, algorithm=ASSERTION_ALGORITHM, headers={"kid": self._key.kid})


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_int(value: int) -> str:
    return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def fhir_user_of(token_response: dict[str, Any]) -> str | None:
    """The EHR user of a token response: its `fhirUser`, else the id_token's `fhirUser` claim, else None.

    The id_token is read without checking its signature: it came in the TLS answer of Epic's token
    endpoint to our own authenticated request (OpenID Connect Core 3.1.3.7 allows TLS as the check).
    """
    import jwt

    value = token_response.get("fhirUser")
    id_token = token_response.get("id_token")
    if not value and isinstance(id_token, str):
        try:
            value = jwt.decode(id_token, options={"verify_signature": False}).get("fhirUser")
        except jwt.PyJWTError:
            value = None
    return value if isinstance(value, str) and value.strip() else None
