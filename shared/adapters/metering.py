"""Count storage transactions and entities read, as an azure-core response hook.

Given to `Storage(..., meter=meter)`, it sees every response our storage clients receive (as their
`raw_response_hook`: azure-data-tables ignores extra pipeline policies, but every azure-core client runs
this hook); tests use it to show that a query reads only the partitions it should, and benchmarks print
transactions per item and where they go (`calls`: per scope, account, table or queue, method and status).
"""

from __future__ import annotations

import ipaddress
import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True, order=True)
class Call:
    """One kind of storage call: what a breakdown of transactions is keyed by."""

    scope: str
    """What the caller was doing, as the meter's `scope` function said ("" without one)."""
    account: str
    resource: str
    """The table, queue or container name; `Tables` for the table service's own operations."""
    method: str
    status: int


class StorageMeter:
    def __init__(self, scope: Callable[[], str] | None = None) -> None:
        """`scope()` is asked, in the calling thread, for a label to split `calls` by (e.g. which function)."""
        self._scope = scope
        self._lock = threading.Lock()
        self.transactions = 0
        self.entities_read = 0
        self.calls: Counter[Call] = Counter()

    def reset(self) -> None:
        with self._lock:
            self.transactions = 0
            self.entities_read = 0
            self.calls.clear()

    def __call__(self, response: Any) -> None:
        request, http_response = response.http_request, response.http_response
        entities = 0
        if request.method == "GET" and "json" in (http_response.headers.get("content-type") or ""):
            entities = _entities_in(http_response.body())
        account, resource = _account_and_resource(request.url)
        call = Call(self._scope() if self._scope else "", account, resource, request.method, http_response.status_code)
        with self._lock:
            self.transactions += 1
            self.entities_read += entities
            self.calls[call] += 1


def _account_and_resource(url: str) -> tuple[str, str]:
    """The account and the table, queue or container a request URL addresses.

    Emulators (an IP address or localhost) use path-style URLs, `/<account>/<resource>...`; Azure names
    the account in the host, `<account>.queue.core.windows.net/<resource>...`. A table entity's key,
    `appointments(PartitionKey='..',RowKey='..')`, is not part of the name.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    segments = [segment for segment in parts.path.split("/") if segment]
    if _is_emulator(host):
        account, segments = (segments[0], segments[1:]) if segments else ("", [])
    else:
        account = host.split(".", 1)[0]
    resource = segments[0].split("(", 1)[0] if segments else ""
    return account, resource


def _is_emulator(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _entities_in(body: bytes) -> int:
    """Entities in a Tables response: a query's `value` list, or one entity from a point read."""
    try:
        document = json.loads(body)
    except ValueError:
        return 0
    if isinstance(document, dict) and isinstance(document.get("value"), list):
        return sum(1 for item in document["value"] if "PartitionKey" in item)
    return 1 if isinstance(document, dict) and "PartitionKey" in document else 0
