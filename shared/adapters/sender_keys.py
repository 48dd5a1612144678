"""The public keys an endpoint's HL7 senders sign with: the uploaded certificate's, and its JWKS URL's."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from shared.adapters.jwks import JwksCache
from shared.domain.config import SenderKeys
from shared.errors import ConflictError


class SenderKeyResolver:
    """Thread-safe and cached: one per process."""

    def __init__(self) -> None:
        self._jwks = JwksCache(what="The sender JWKS URL")

    def public_keys(self, keys: SenderKeys, kid: str | None, now: datetime) -> list[Any]:
        """Keys a token with `kid` may be signed with. Raises ConflictError (with the reason) when the
        environment has no usable key: no certificate and no JWKS URL, or only an expired certificate."""
        found: list[Any] = []
        expired = keys.certificate_pem is not None and keys.not_after is not None and keys.not_after <= now
        if keys.certificate_pem and not expired:
            found.append(_certificate_key(keys.certificate_pem))
        if keys.jwks_url:
            found += [key.key for key in self._jwks.keys(keys.jwks_url, kid)]
        if found or keys.jwks_url:
            return found  # an empty JWKS match is a signature problem (401), not a configuration one
        if expired:
            raise ConflictError(
                f"The {keys.environment} certificate expired on {keys.not_after:%Y-%m-%d}; upload a new one."
            )
        raise ConflictError(f"No certificate or JWKS URL is configured for the {keys.environment} environment.")


@functools.lru_cache(maxsize=64)
def _certificate_key(pem: str) -> Any:
    from cryptography import x509

    return x509.load_pem_x509_certificate(pem.encode("ascii")).public_key()
