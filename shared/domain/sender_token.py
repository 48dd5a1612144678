"""The HL7 ingress's sender authentication: a short-lived JWT signed with the organisation's key.

Contract (documented in README.md, section "HL7 ingress"): `Authorization: Bearer <JWT>`, signed RS256,
RS384, RS512, ES256 or ES384 with the private key of the certificate uploaded for the endpoint's environment
(or a key of the endpoint's JWKS URL, chosen by `kid`). Claims: `aud` = the ingress URL, `exp` at most five
minutes ahead, `iat`, a unique `jti` (single use; the caller records it), and `body_sha256` = Base64url
SHA-256 of the exact request body, required when the endpoint says so and checked whenever present.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from shared.errors import NotAuthorisedError

ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384")
MAX_LIFETIME = timedelta(minutes=5)
CLOCK_SKEW = timedelta(seconds=60)
BODY_HASH_CLAIM = "body_sha256"
LAST_NUMERIC_DATE = 253_402_300_799
"""9999-12-31T23:59:59Z, the last second a datetime holds."""


@dataclass(frozen=True)
class TokenHeader:
    """The JOSE header of a token, read once per request (before the signature is checked: hints only)."""

    algorithm: str | None
    key_id: str | None


@dataclass(frozen=True)
class VerifiedSender:
    jti: str
    expires: datetime
    key_id: str | None
    binds_body: bool
    """The token carries `body_sha256` (checked): it can only ever bring this very body."""


def replay_window_end(now: datetime) -> datetime:
    """Until when a token whose `jti` is first used at `now` could still be accepted: a token signed by then
    has `iat` at most CLOCK_SKEW ahead, `exp` at most MAX_LIFETIME (+ skew) after `iat`, and is accepted up
    to CLOCK_SKEW after `exp`, whatever `exp` the one used first carried."""
    return now + MAX_LIFETIME + 3 * CLOCK_SKEW


def body_hash(body: bytes) -> str:
    """Base64url (no padding) SHA-256 of the exact body, as senders put it in the `body_sha256` claim."""
    return base64.urlsafe_b64encode(hashlib.sha256(body).digest()).rstrip(b"=").decode("ascii")


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer` header. Raises NotAuthorisedError."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthorisedError("Missing Authorization: Bearer token.")
    return token.strip()


def read_token_header(token: str) -> TokenHeader:
    """The token's `alg` and `kid` (to pick a JWKS key). Raises NotAuthorisedError on a malformed token."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise NotAuthorisedError("The bearer token is not a well-formed JWT.") from exc
    return TokenHeader(algorithm=header.get("alg"), key_id=header.get("kid"))


def verify_sender_token(
    token: str,
    *,
    header: TokenHeader,
    keys: Sequence[Any],
    audience: str,
    body: bytes,
    require_body_hash: bool,
) -> VerifiedSender:
    """Check signature (against any of `keys`), audience, lifetime, jti and body hash; `header` is the token's
    own (`read_token_header`).

    Raises NotAuthorisedError with a reason a sender's engineer can act on (never echoing the token).
    """
    now = datetime.now(UTC)  # PyJWT checks exp and iat against the real clock too
    claims = _decode(token, header, keys, audience)
    exp, iat = claims["exp"], claims["iat"]
    if not all(_numeric_date(value) for value in (exp, iat)):
        # Checked before any arithmetic: an absurd exp (10**20, 1e308) is no datetime at all.
        raise NotAuthorisedError("The token's exp and iat must be NumericDate values (seconds since 1970).")
    longest = (MAX_LIFETIME + CLOCK_SKEW).total_seconds()
    if exp - now.timestamp() > longest or exp - iat > longest:
        raise NotAuthorisedError("The token lives longer than 5 minutes; use a short expiry.")
    expires = datetime.fromtimestamp(exp, UTC)
    if not isinstance(claims["jti"], str) or not claims["jti"].strip():
        raise NotAuthorisedError("The token's jti claim is empty.")
    claimed_hash = claims.get(BODY_HASH_CLAIM)
    if claimed_hash is None and require_body_hash:
        raise NotAuthorisedError(f"This endpoint requires the {BODY_HASH_CLAIM} claim.")
    if claimed_hash is not None and not hmac.compare_digest(str(claimed_hash), body_hash(body)):
        raise NotAuthorisedError(f"The {BODY_HASH_CLAIM} claim does not match the body.")
    return VerifiedSender(jti=claims["jti"], expires=expires, key_id=header.key_id, binds_body=claimed_hash is not None)


def _numeric_date(value: object) -> bool:
    """A number of seconds since 1970 within years 1970-9999 (comparisons only: exact for any int or float)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= LAST_NUMERIC_DATE


def _decode(token: str, header: TokenHeader, keys: Sequence[Any], audience: str) -> dict[str, Any]:
    if not keys:
        raise NotAuthorisedError("No sender key is configured for this endpoint's environment.")
    algorithm = header.algorithm
    if algorithm not in ALGORITHMS:
        raise NotAuthorisedError(f"The token's alg must be one of {', '.join(ALGORITHMS)}.")
    key_type = rsa.RSAPublicKey if algorithm.startswith("RS") else ec.EllipticCurvePublicKey
    last_error: jwt.PyJWTError | None = None
    for key in (key for key in keys if isinstance(key, key_type)):
        try:
            return jwt.decode(
                token,
                key=key,
                algorithms=list(ALGORITHMS),
                audience=audience,
                leeway=CLOCK_SKEW,
                options={"require": ["exp", "iat", "jti", "aud"]},
            )
        except (jwt.InvalidSignatureError, jwt.InvalidKeyError, jwt.InvalidAlgorithmError) as exc:
            last_error = exc  # signed by another key (or key type): try the next one
            continue
        except jwt.ExpiredSignatureError as exc:
            raise NotAuthorisedError("The token has expired.") from exc
        except jwt.InvalidAudienceError as exc:
            raise NotAuthorisedError(f"The token's aud must be {audience}.") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise NotAuthorisedError(f"The token lacks the {exc.claim} claim.") from exc
        except jwt.ImmatureSignatureError as exc:
            raise NotAuthorisedError("The token is not valid yet (iat or nbf in the future).") from exc
        except jwt.PyJWTError as exc:
            raise NotAuthorisedError(f"The token was refused: {type(exc).__name__}.") from exc
        except (OverflowError, ValueError, TypeError) as exc:  # PyJWT's int() of an infinite or odd exp/iat/nbf
            raise NotAuthorisedError("The token's exp, iat or nbf is not a usable NumericDate.") from exc
    raise NotAuthorisedError("The token's signature does not match the endpoint's key.") from last_error
