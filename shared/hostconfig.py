"""The queue semantics host.json gives the Functions host, read once so our code agrees with it.

The storage layer encodes queue messages the way the trigger decodes them, and the local host
retries and poisons messages the way the real host does; both read the values from here.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

HOST_JSON = Path(__file__).resolve().parent.parent / "host.json"


@dataclass(frozen=True)
class QueueSemantics:
    message_encoding: str  # "none" or "base64", as extensions.queues.messageEncoding says
    max_dequeue_count: int
    visibility_timeout_seconds: float
    batch_size: int
    max_polling_interval_seconds: float


@dataclass(frozen=True)
class HostConfig:
    route_prefix: str
    queues: QueueSemantics


@functools.cache
def get_host_config(path: Path = HOST_JSON) -> HostConfig:
    """Parse host.json; defaults are the Functions host's own for anything left out."""
    document = json.loads(path.read_text(encoding="utf-8"))
    extensions = document.get("extensions", {})
    queues = extensions.get("queues", {})
    return HostConfig(
        route_prefix=extensions.get("http", {}).get("routePrefix", "api"),
        queues=QueueSemantics(
            message_encoding=queues.get("messageEncoding", "base64").lower(),
            max_dequeue_count=int(queues.get("maxDequeueCount", 5)),
            visibility_timeout_seconds=_timespan_seconds(queues.get("visibilityTimeout", "00:00:00")),
            batch_size=int(queues.get("batchSize", 16)),
            max_polling_interval_seconds=_timespan_seconds(queues.get("maxPollingInterval", "00:01:00")),
        ),
    )


def _timespan_seconds(value: str) -> float:
    """A .NET TimeSpan `hh:mm:ss[.fff]` as seconds."""
    match = re.fullmatch(r"(\d+):(\d{2}):(\d{2}(?:\.\d+)?)", value)
    if not match:
        raise ValueError(f"host.json timespan {value!r} is not hh:mm:ss")
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
