"""Check the HMAC-SHA256 signature that Azure Communication Services SDKs put on every request.

String to sign: `METHOD\\n<path and query>\\n<x-ms-date>;<host>;<x-ms-content-sha256>`, keyed with the
Base64-decoded access key; the body hash is Base64 SHA-256 of the exact body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from localworld.server import Request


def acs_signature_valid(request: Request, access_key: str) -> bool:
    headers = request.headers
    content_hash = base64.b64encode(hashlib.sha256(request.body).digest()).decode()
    if headers.get("x-ms-content-sha256") != content_hash:
        return False
    authorization = headers.get("authorization", "")
    prefix = "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature="
    if not authorization.startswith(prefix):
        return False
    to_sign = f"{request.method}\n{request.target}\n{headers.get('x-ms-date')};{headers.get('host')};{content_hash}"
    expected = base64.b64encode(
        hmac.new(base64.b64decode(access_key), to_sign.encode(), hashlib.sha256).digest()
    ).decode()
    return hmac.compare_digest(expected, authorization[len(prefix) :])
