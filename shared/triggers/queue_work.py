"""What every queue trigger shares: decode the JSON message, run the work, route failures.

Retries are the host's (host.json): an exception makes the message visible again and, after
`maxDequeueCount`, moves it to `<queue>-poison`, so a message that cannot even be decoded is kept, not
lost. A message that decodes but can never be processed (InvalidMessageError) goes to the poison queue at
once, with the reason logged, instead of burning retries; storage and upstream failures raise for a retry.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import azure.functions as func

from shared.errors import InvalidMessageError

if TYPE_CHECKING:
    from shared.adapters.storage import StorageAccount

logger = logging.getLogger(__name__)


def run_queue_message(
    msg: func.QueueMessage, *, queue_name: str, account: StorageAccount, work: Callable[[Any], object]
) -> None:
    """Run `work(payload)`. Raises ValueError for an undecodable message, and whatever `work` raises but
    InvalidMessageError."""
    payload = json.loads(msg.get_body())
    try:
        outcome = work(payload)
    except InvalidMessageError as error:
        account.queue(f"{queue_name}-poison").send(payload)
        logger.warning("Message %s moved to %s-poison: %s", msg.id, queue_name, error.message)
        return
    logger.info("Message %s of %s: %s", msg.id, queue_name, outcome)
