"""What every queue trigger shares: decode the JSON message, run the work, route failures.

Retries are the host's (host.json): an exception makes the message visible again. A message no retry can
fix goes to `<queue>-poison` at once, with its reason, through `shared/services/poison.py` (which keeps it
only as long as the retention and its visit's purge allow): one that is not JSON, one whose work raises
InvalidMessageError, and one that fails on its last delivery (`maxDequeueCount`). Other failures raise
for a retry.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import azure.functions as func

from shared import bootstrap
from shared.errors import ConnectorError, InvalidMessageError
from shared.hostconfig import get_host_config
from shared.lazy import lazy_import

if TYPE_CHECKING:
    from shared.adapters.storage import StorageAccount

poison = lazy_import("shared.services.poison")

logger = logging.getLogger(__name__)


def run_queue_message(
    msg: func.QueueMessage, *, queue_name: str, account: StorageAccount, work: Callable[[Any], object]
) -> None:
    """Run `work(payload)`. Raises what `work` raises (but InvalidMessageError) before the last delivery."""
    try:
        payload = json.loads(msg.get_body())
    except ValueError:
        _poison(msg, queue_name, account, {"undecodable": msg.get_body().decode("utf-8", "replace")}, "not JSON")
        return
    try:
        outcome = work(payload)
    except InvalidMessageError as error:
        _poison(msg, queue_name, account, payload, error.message)
        return
    except ConnectorError as error:
        # The worker's binding carries the dequeue count (azure.functions.queue.QueueMessage); unknown: retry.
        if (getattr(msg, "dequeue_count", None) or 1) < get_host_config().queues.max_dequeue_count:
            raise
        _poison(msg, queue_name, account, payload, f"failed on every delivery: {error.message}")
        return
    logger.info("Message %s of %s: %s", msg.id, queue_name, outcome)


def _poison(msg: func.QueueMessage, queue_name: str, account: StorageAccount, payload: Any, reason: str) -> None:
    poison.poison_message(
        account,
        queue_name,
        payload,
        reason,
        endpoints=bootstrap.get_directory(),
        policy=bootstrap.get_poison_policy(),
        now=datetime.now(UTC),
    )
    logger.warning("Message %s moved to %s-poison: %s", msg.id, queue_name, poison.safe_reason(reason))
