"""Opaque, signed context tokens scoped to one endpoint (e.g. the device-test record's token).

Format: base64url(JSON claims) "." base64url(HMAC-SHA256(secret, claims part)). The launch feature
verifies them with `verify_context_token`; nothing in them is secret, but nothing can be forged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json

from shared.errors import InvalidRequestError


def sign_context_token(secret: bytes, endpoint_id: str, purpose: str) -> str:
    claims = json.dumps({"e": endpoint_id, "p": purpose, "v": 1}, separators=(",", ":"), sort_keys=True)
    body = _b64(claims.encode())
    return f"{body}.{_b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())}"


def verify_context_token(secret: bytes, token: str, purpose: str) -> str:
    """The endpoint id a valid token is scoped to. Raises InvalidRequestError for anything else."""
    body, _, signature = token.partition(".")
    expected = _b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())
    if not signature or not hmac.compare_digest(signature, expected):
        raise InvalidRequestError("The context token is not valid.")
    try:
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, binascii.Error):
        raise InvalidRequestError("The context token is not valid.") from None
    if not isinstance(claims, dict) or claims.get("p") != purpose or not isinstance(claims.get("e"), str):
        raise InvalidRequestError("The context token is not meant for this.")
    return claims["e"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
