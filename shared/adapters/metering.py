"""Count storage transactions and entities read, as an azure-core response hook.

Given to `Storage(..., meter=meter)`, it sees every response our storage clients receive (as their
`raw_response_hook`: azure-data-tables ignores extra pipeline policies, but every azure-core client runs
this hook); tests use it to show that a query reads only the partitions it should, and benchmarks print
transactions per item.
"""

from __future__ import annotations

import json
import threading
from typing import Any


class StorageMeter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.transactions = 0
        self.entities_read = 0

    def reset(self) -> None:
        with self._lock:
            self.transactions = 0
            self.entities_read = 0

    def __call__(self, response: Any) -> None:
        http_response = response.http_response
        entities = 0
        if response.http_request.method == "GET" and "json" in (http_response.headers.get("content-type") or ""):
            entities = _entities_in(http_response.body())
        with self._lock:
            self.transactions += 1
            self.entities_read += entities


def _entities_in(body: bytes) -> int:
    """Entities in a Tables response: a query's `value` list, or one entity from a point read."""
    try:
        document = json.loads(body)
    except ValueError:
        return 0
    if isinstance(document, dict) and isinstance(document.get("value"), list):
        return sum(1 for item in document["value"] if "PartitionKey" in item)
    return 1 if isinstance(document, dict) and "PartitionKey" in document else 0
