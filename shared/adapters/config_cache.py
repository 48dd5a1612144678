"""A short-lived, per-process cache in front of the configuration reads the message paths make.

Every HL7 message, SMS job and SMART launch needs its endpoint (and organisation); reading them once per
`TTL_SECONDS` instead of once per message halves the storage transactions of the pipeline. An admin
change therefore reaches running instances within that time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from shared.domain.config import Endpoint, Organisation, SenderKeys

T = TypeVar("T")
TTL_SECONDS = 30.0


class CachedDirectory:
    def __init__(self, store: Any, *, ttl_seconds: float = TTL_SECONDS) -> None:
        self._store = store
        self._ttl = ttl_seconds
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, ...], tuple[float, Any]] = {}

    def get_endpoint(self, endpoint_id: str) -> Endpoint:
        return self._cached(("endpoint", endpoint_id), lambda: self._store.get_endpoint(endpoint_id))

    def find_endpoint_by_url(self, fhir_base_url: str) -> Endpoint:
        """The endpoint of a normalised FHIR base URL (a SMART launch's `iss`). Raises NotFoundError."""
        return self._cached(("url", fhir_base_url), lambda: self._store.find_endpoint_by_url(fhir_base_url))

    def get_organisation(self, org_id: str) -> Organisation:
        return self._cached(("organisation", org_id), lambda: self._store.get_organisation(org_id))

    def get_sender_keys(self, org_id: str, environment: str) -> SenderKeys:
        return self._cached(
            ("keys", org_id, str(environment)), lambda: self._store.get_sender_keys(org_id, environment)
        )

    def _cached(self, key: tuple[str, ...], read: Callable[[], T]) -> T:
        """Errors (not found, storage down) are not cached: the next call asks the store again."""
        with self._lock:
            hit = self._entries.get(key)
        if hit is not None and time.monotonic() - hit[0] < self._ttl:
            return hit[1]
        value = read()
        with self._lock:
            self._entries[key] = (time.monotonic(), value)
        return value
