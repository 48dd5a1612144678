"""JSON Web Key Sets fetched over HTTPS: Entra's signing keys, and an organisation's HL7 sender keys."""

from __future__ import annotations

import logging
import threading
import time

import jwt

from shared.adapters.http_client import get_json
from shared.log_safety import loggable

logger = logging.getLogger(__name__)

KEYS_MAX_AGE_SECONDS = 24 * 3600
"""Keys are re-read at least daily, and sooner when a token names a key we have not seen."""
REFRESH_FLOOR_SECONDS = 60.0
"""An unknown `kid` triggers at most one fetch a minute: forged kids must not turn us into a load generator."""


def fetch_jwks(url: str, *, what: str, key_types: tuple[str, ...] = ("RSA", "EC")) -> dict[str, jwt.PyJWK]:
    """The usable keys of the JWKS at `url`, by `kid`. Raises UpstreamError when it cannot be fetched."""
    keys: dict[str, jwt.PyJWK] = {}
    for entry in get_json(url, what=what).get("keys", []):
        if isinstance(entry, dict) and entry.get("kid") and entry.get("kty") in key_types:
            try:
                keys[str(entry["kid"])] = jwt.PyJWK(entry)
            except jwt.PyJWTError:
                logger.warning("Skipping an unusable key %s in %s", loggable(entry.get("kid")), what)
    return keys


class JwksCache:
    """Keys of several JWKS URLs, each re-fetched when stale or when asked for an unknown kid."""

    def __init__(self, *, what: str, refresh_floor_seconds: float = REFRESH_FLOOR_SECONDS) -> None:
        self._what = what
        self._floor = refresh_floor_seconds
        self._lock = threading.Lock()
        self._sets: dict[str, tuple[float, dict[str, jwt.PyJWK]]] = {}

    def keys(self, url: str, kid: str | None) -> list[jwt.PyJWK]:
        """The key named `kid` (or every key when the token names none). Raises UpstreamError."""
        with self._lock:
            fetched_at, keys = self._sets.get(url, (float("-inf"), {}))
            age = time.monotonic() - fetched_at
            if age > KEYS_MAX_AGE_SECONDS or (kid is not None and kid not in keys and age > self._floor):
                keys = fetch_jwks(url, what=self._what)
                self._sets[url] = (time.monotonic(), keys)
        if kid is None:
            return list(keys.values())
        return [keys[kid]] if kid in keys else []
