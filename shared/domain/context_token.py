"""Context tokens: opaque, URL-safe, HMAC-SHA256-signed statements "this link is for endpoint X, for purpose P".

Format: ``base64url(payload) "." base64url(HMAC-SHA256(secret, purpose "\\n" payload))`` where the payload
is compact JSON ``{"e": endpoint_id, "x": expiry epoch seconds or absent}``. The purpose is signed but not
carried, so a token minted for one purpose (device test) never verifies for another (launch).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import UTC, datetime

from shared.errors import NotAuthorisedError


def sign(endpoint_id: str, purpose: str, secret: bytes, expires_at: datetime | None = None) -> str:
    """A token binding `endpoint_id` to `purpose`; valid until `expires_at` (timezone-aware) or for ever."""
    claims: dict[str, object] = {"e": endpoint_id}
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise ValueError("expires_at must be timezone-aware")
        claims["x"] = int(expires_at.timestamp())
    payload = _encode(json.dumps(claims, separators=(",", ":")).encode())
    return f"{payload}.{_encode(_mac(purpose, payload, secret))}"


def verify(token: str, purpose: str, secret: bytes, now: datetime) -> str:
    """The endpoint id the token was signed for.

    Raises NotAuthorisedError when the token is malformed, signed with another key or for another
    purpose, or expired at `now`; the message never repeats the token.
    """
    payload, _, signature = token.partition(".")
    try:
        valid = hmac.compare_digest(_decode(signature), _mac(purpose, payload, secret))
        claims = json.loads(_decode(payload)) if valid else None
    except (binascii.Error, ValueError):
        claims = None
    if not isinstance(claims, dict) or not isinstance(claims.get("e"), str):
        raise NotAuthorisedError("The link is not valid.")
    expiry = claims.get("x")
    if expiry is not None and (not isinstance(expiry, int) or now.timestamp() >= expiry):
        raise NotAuthorisedError("The link has expired.")
    return claims["e"]


def _mac(purpose: str, payload: str, secret: bytes) -> bytes:
    return hmac.new(secret, f"{purpose}\n{payload}".encode(), hashlib.sha256).digest()


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    if not text.isascii():
        raise ValueError("not ASCII")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class HmacContextTokenVerifier:
    """`ContextTokenVerifier` for one purpose over a shared secret (until the config API brings its own)."""

    def __init__(self, secret: bytes, purpose: str) -> None:
        self._secret = secret
        self._purpose = purpose

    def verify(self, token: str) -> str:
        """The endpoint id of a valid, unexpired token. Raises NotAuthorisedError."""
        return verify(token, self._purpose, self._secret, datetime.now(UTC))
