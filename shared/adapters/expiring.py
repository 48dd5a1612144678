"""Tables whose rows go at a known time, deleted by the timer in O(what is due): sharded, with a time index.

A row's key is a hex digest; its partition is one of `shards` fixed partitions chosen by that digest, so
writes spread evenly whatever their time, and the timer knows every partition without listing any. Beside
each row, in the same partition, an index row `t|<delete after>|<key>` names it. Both are written in one
entity-group transaction: one round trip, and never one without the other. The timer reads each shard's
index rows up to now (one row-key range per shard, returning only what is due) and deletes each due row
with its index row, up to `BATCH_PAIRS` pairs per transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.adapters.storage import Stored, Table
from shared.errors import NotFoundError

logger = logging.getLogger(__name__)

INDEX_PREFIX = "t|"
"""Index row keys start with it; row keys are hex digests, which never contain `t` or `|`."""
DUE_FORMAT = "%Y%m%dT%H%M%S"
BATCH_PAIRS = 50
"""An entity-group transaction holds at most 100 operations: 50 rows with their index rows."""


@dataclass(frozen=True)
class ExpiringTable:
    table: Table
    shards: int

    def partition(self, key: str) -> str:
        """The shard of a hex-digest key."""
        return f"{int(key[:8], 16) % self.shards:02d}"

    def create(self, key: str, fields: dict[str, Any], delete_after: datetime) -> None:
        """Write the row and its index row in one transaction. Raises ConflictError when `key` exists."""
        partition = self.partition(key)
        row = {**fields, "PartitionKey": partition, "RowKey": key, "DeleteAfter": delete_after}
        self.table.submit([("create", row), ("create", _index_row(partition, key, delete_after))])

    def get(self, key: str) -> Stored:
        """Raises NotFoundError."""
        return self.table.get(self.partition(key), key)

    def delete(self, key: str, delete_after: datetime, etag: str | None = None) -> None:
        """Delete the row (only if unchanged since `etag`) and its index row, together.

        Raises NotFoundError when the row is gone, PreconditionFailedError when it changed.
        """
        partition = self.partition(key)
        condition = {"etag": etag, "match_condition": _if_not_modified()} if etag else {}
        self.table.submit(
            [
                ("delete", {"PartitionKey": partition, "RowKey": key}, condition),
                ("delete", _index_row(partition, key, delete_after)),
            ]
        )

    def delete_due(self, now: datetime, before_delete: Callable[[Stored], None] | None = None) -> int:
        """Delete every row due by `now` with its index row; returns how many rows were due.

        `before_delete(index_row)` runs first for each (e.g. to delete what the row points at). Idempotent
        and safe beside a racing tick: a pair that is already half gone is deleted one row at a time.
        """
        due = 0
        for shard in range(self.shards):
            partition = f"{shard:02d}"
            rows = list(self._due_index_rows(partition, now))
            due += len(rows)
            for offset in range(0, len(rows), BATCH_PAIRS):
                batch = rows[offset : offset + BATCH_PAIRS]
                if before_delete is not None:
                    for row in batch:
                        before_delete(row)
                self._delete_pairs(partition, batch)
        return due

    def _due_index_rows(self, partition: str, now: datetime) -> Iterator[Stored]:
        limit = f"{INDEX_PREFIX}{now.astimezone(UTC):{DUE_FORMAT}}|~"
        return self.table.query(
            "PartitionKey eq @pk and RowKey ge @first and RowKey le @limit",
            {"pk": partition, "first": INDEX_PREFIX, "limit": limit},
        )

    def _delete_pairs(self, partition: str, index_rows: list[Stored]) -> None:
        operations: list[tuple[str, dict[str, Any]]] = []
        for row in index_rows:
            operations.append(("delete", {"PartitionKey": partition, "RowKey": row.entity["Key"]}))
            operations.append(("delete", {"PartitionKey": partition, "RowKey": row.entity["RowKey"]}))
        try:
            self.table.submit(operations)
        except NotFoundError:
            # A row was used and deleted already (an auth state), or a racing tick got there first.
            for _, entity in operations:
                self.table.delete(entity["PartitionKey"], entity["RowKey"])


def _index_row(partition: str, key: str, delete_after: datetime) -> dict[str, Any]:
    return {
        "PartitionKey": partition,
        "RowKey": f"{INDEX_PREFIX}{delete_after.astimezone(UTC):{DUE_FORMAT}}|{key}",
        "Key": key,
    }


def _if_not_modified() -> Any:
    from azure.core import MatchConditions

    return MatchConditions.IfNotModified
