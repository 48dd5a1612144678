"""JSON Web Key Sets fetched over HTTPS: Entra's signing keys, and an organisation's HL7 sender keys.

Each organisation may name its own JWKS URL, so one slow or hostile URL must not slow anyone else: every
URL has its own lock (one fetch in flight per URL, the callers waiting for it share its result), fetches
have short timeouts, a failed fetch is not retried for the refresh floor, and a `kid` a fresh set did not
have is remembered as unknown (a negative cache), so forged kids cannot turn us into a load generator.
Callers whose `kid` is already cached never wait for a fetch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import jwt

from shared.adapters.http_client import get_json
from shared.errors import UpstreamError
from shared.log_safety import loggable

logger = logging.getLogger(__name__)

KEYS_MAX_AGE_SECONDS = 24 * 3600
"""Keys are re-read at least daily, and sooner when a token names a key we have not seen."""
REFRESH_FLOOR_SECONDS = 60.0
"""An unknown `kid` (or a failed fetch) triggers at most one fetch of a URL a minute."""
UNKNOWN_KID_SECONDS = 600.0
"""How long a `kid` missing from a freshly fetched set stays known as unknown (the negative cache)."""
MAX_UNKNOWN_KIDS = 1024
"""Negative-cache entries per URL; a flood of random kids clears it rather than growing it."""
FETCH_TIMEOUT_SECONDS = (3.0, 5.0)
"""Connect and read timeouts of a JWKS fetch: a healthy JWKS answers in milliseconds."""


def fetch_jwks(
    url: str,
    *,
    what: str,
    key_types: tuple[str, ...] = ("RSA", "EC"),
    timeout: tuple[float, float] = FETCH_TIMEOUT_SECONDS,
) -> dict[str, jwt.PyJWK]:
    """The usable keys of the JWKS at `url`, by `kid`. Raises UpstreamError when it cannot be fetched."""
    keys: dict[str, jwt.PyJWK] = {}
    for entry in get_json(url, what=what, timeout=timeout).get("keys", []):
        if isinstance(entry, dict) and entry.get("kid") and entry.get("kty") in key_types:
            try:
                keys[str(entry["kid"])] = jwt.PyJWK(entry)
            except jwt.PyJWTError:
                logger.warning("Skipping an unusable key %s in %s", loggable(entry.get("kid")), what)
    return keys


@dataclass
class _KeySet:
    """One URL's keys and what is known about fetching them; `lock` serialises its fetches only."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    keys: dict[str, jwt.PyJWK] = field(default_factory=dict)
    fetched_at: float = float("-inf")
    failed_at: float = float("-inf")
    unknown: dict[str, float] = field(default_factory=dict)


class JwksCache:
    """Keys of several JWKS URLs, each re-fetched when stale or when asked for a kid it may have gained."""

    def __init__(
        self,
        *,
        what: str,
        refresh_floor_seconds: float = REFRESH_FLOOR_SECONDS,
        timeout: tuple[float, float] = FETCH_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._what = what
        self._floor = refresh_floor_seconds
        self._timeout = timeout
        self._clock = clock
        self._sets_lock = threading.Lock()  # guards the dict only, never held during a fetch
        self._sets: dict[str, _KeySet] = {}

    def keys(self, url: str, kid: str | None) -> list[jwt.PyJWK]:
        """The key named `kid` (or every key when the token names none). Raises UpstreamError when the
        keys are needed and the URL cannot be fetched (at once, without a fetch, within the refresh floor
        after a failed one)."""
        entry = self._key_set(url)
        if self._needs_fetch(entry, kid):
            with entry.lock:
                if self._needs_fetch(entry, kid):  # another caller's fetch may have just answered
                    self._fetch(url, entry, kid)
        found = list(entry.keys.values()) if kid is None else [entry.keys[kid]] if kid in entry.keys else []
        if not found and entry.failed_at > entry.fetched_at and self._clock() - entry.failed_at <= self._floor:
            raise UpstreamError(f"{self._what} could not be fetched recently; try again later.", retryable=True)
        return found

    def _key_set(self, url: str) -> _KeySet:
        with self._sets_lock:
            return self._sets.setdefault(url, _KeySet())

    def _needs_fetch(self, entry: _KeySet, kid: str | None) -> bool:
        now = self._clock()
        if now - entry.failed_at <= self._floor:
            return False
        age = now - entry.fetched_at
        if age > KEYS_MAX_AGE_SECONDS:
            return True
        if kid is None or kid in entry.keys or age <= self._floor:
            return False
        return now - entry.unknown.get(kid, float("-inf")) > UNKNOWN_KID_SECONDS

    def _fetch(self, url: str, entry: _KeySet, kid: str | None) -> None:
        try:
            keys = fetch_jwks(url, what=self._what, timeout=self._timeout)
        except UpstreamError:
            entry.failed_at = self._clock()
            raise
        entry.keys, entry.fetched_at = keys, self._clock()
        if len(entry.unknown) >= MAX_UNKNOWN_KIDS:
            entry.unknown.clear()
        if kid is not None and kid not in keys:
            entry.unknown[kid] = entry.fetched_at
