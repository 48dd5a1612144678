"""`send`: sign an HL7 v2 file the way the ingress expects and POST it, to test a deployment end to end.

    python -m shared.hl7v2 send --key KEY.pem --url https://<app>/api/hl7/<endpointId> FILE [--kid KID]

The token is a JWT signed with KEY.pem (RSA: RS384, EC: ES256/ES384 by curve) whose certificate the
admin uploaded for the endpoint's environment: `aud` = the URL, `exp` in 4 minutes, a fresh `jti`, and
`body_sha256` of the exact body. Prints the HTTP status and the ACK; exit status 0 only for `MSA|AA`.
"""

from __future__ import annotations

import argparse
import functools
import time
import uuid
from pathlib import Path
from typing import Any

import jwt

from shared.domain.sender_token import BODY_HASH_CLAIM, body_hash

TOKEN_LIFETIME_SECONDS = 240


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("send", help="sign and POST an HL7 v2 file to the ingress", description=__doc__)
    parser.add_argument("file", metavar="FILE", type=Path)
    parser.add_argument("--key", required=True, type=Path, help="PEM private key of the uploaded certificate")
    parser.add_argument("--url", required=True, help="the ingress URL, https://<app>/api/hl7/<endpointId>")
    parser.add_argument("--kid", help="key id to put in the JWT header (for JWKS-published keys)")
    parser.set_defaults(run=run)


def sender_token(private_key_pem: bytes, url: str, body: bytes, *, kid: str | None = None) -> str:
    """The bearer token for posting `body` to `url`, signed with `private_key_pem`."""
    from cryptography.hazmat.primitives.asymmetric import ec

    key = _private_key(private_key_pem)
    algorithm = "RS384"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        algorithm = "ES384" if key.curve.name == "secp384r1" else "ES256"
    now = int(time.time())
    claims = {
        "aud": url,
        "iat": now,
        "exp": now + TOKEN_LIFETIME_SECONDS,
        "jti": str(uuid.uuid4()),
        BODY_HASH_CLAIM: body_hash(body),
    }
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid} if kid else None)


@functools.lru_cache(maxsize=8)
def _private_key(pem: bytes) -> Any:
    """Loading a PEM key costs tens of milliseconds: once per key, not once per message."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key(pem, password=None)


def run(args: argparse.Namespace) -> int:
    import requests

    body = args.file.read_bytes()
    token = sender_token(args.key.read_bytes(), args.url, body, kid=args.kid)
    response = requests.post(
        args.url,
        data=body,
        timeout=30,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/hl7-v2"},
    )
    print(f"HTTP {response.status_code}")
    print(response.text.replace("\r", "\n"))
    accepted = response.status_code == 200 and "MSA|AA" in response.text
    return 0 if accepted else 1
