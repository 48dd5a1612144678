"""Drain a queue trigger's queue the way the Functions host does, as host.json configures it.

Messages are decoded per `messageEncoding`; a failed run makes the message visible again after
`visibilityTimeout`; once a message has been dequeued `maxDequeueCount` times and still fails it
moves, unchanged, to `<queue>-poison`, so nothing is lost.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
from typing import Any

from azure.functions.queue import QueueMessage

from shared.adapters.metering import StorageMeter
from shared.adapters.storage import StorageAccount
from shared.devhost.functions import Function, resolve
from shared.hostconfig import QueueSemantics
from shared.settings import read_connection

logger = logging.getLogger(__name__)

LEASE_SECONDS = 60
"""How long a message stays invisible while the function runs (the host renews; we just lease)."""


class QueuePump:
    """One thread per queue trigger, polling its queue with the host's back-off."""

    def __init__(
        self, function: Function, semantics: QueueSemantics, env: dict[str, str], *, meter: StorageMeter | None = None
    ) -> None:
        self.function = function
        self.semantics = semantics
        self.queue_name = resolve(function.trigger["queueName"], env)
        self.connection = function.trigger.get("connection") or "AzureWebJobsStorage"
        account = StorageAccount(read_connection(env, self.connection), meter=meter)
        self._queue = account.queue(self.queue_name).client
        self._poison = account.queue(f"{self.queue_name}-poison").client
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"devhost-queue-{function.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def drain_once(self) -> int:
        """Receive one batch and process it; returns how many messages were received."""
        messages = list(
            self._queue.receive_messages(
                messages_per_page=self.semantics.batch_size,
                max_messages=self.semantics.batch_size,
                visibility_timeout=LEASE_SECONDS,
            )
        )
        for message in messages:
            self._process(message)
        return len(messages)

    def _run(self) -> None:
        delay = 0.1
        while not self._stop.is_set():
            try:
                received = self.drain_once()
            except Exception:
                logger.exception("Polling %s failed; retrying", self.queue_name)
                received = 0
            delay = 0.1 if received else min(delay * 2, self.semantics.max_polling_interval_seconds)
            self._stop.wait(delay if not received else 0)

    def _process(self, message: Any) -> None:
        if message.dequeue_count > self.semantics.max_dequeue_count:
            self._to_poison(message)
            return
        try:
            self.function.call(self._as_binding(message))
        except Exception:
            logger.warning(
                "Function %s failed on message %s (dequeue %d of %d)",
                self.function.name,
                message.id,
                message.dequeue_count,
                self.semantics.max_dequeue_count,
                exc_info=True,
            )
            if message.dequeue_count >= self.semantics.max_dequeue_count:
                self._to_poison(message)
            else:
                self._queue.update_message(message, visibility_timeout=int(self.semantics.visibility_timeout_seconds))
            return
        self._queue.delete_message(message)

    def _as_binding(self, message: Any) -> QueueMessage:
        return QueueMessage(
            id=message.id,
            body=self._decode(message.content),
            dequeue_count=message.dequeue_count,
            insertion_time=message.inserted_on,
            expiration_time=message.expires_on,
            time_next_visible=message.next_visible_on,
            pop_receipt=message.pop_receipt,
        )

    def _decode(self, content: str) -> bytes:
        if self.semantics.message_encoding == "base64":
            try:
                return base64.b64decode(content, validate=True)
            except binascii.Error as exc:
                raise ValueError("queue message is not Base64 as host.json's messageEncoding says") from exc
        return content.encode("utf-8")

    def _to_poison(self, message: Any) -> None:
        self._poison.send_message(message.content)
        self._queue.delete_message(message)
        logger.warning("Message %s moved to %s-poison", message.id, self.queue_name)
