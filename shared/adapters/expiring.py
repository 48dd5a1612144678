"""Tables whose rows go at a known time, deleted by the timer in O(what is due): sharded, with a time index.

A row's key is a hex digest; its partition is one of `shards` fixed partitions chosen by that digest, so
writes spread evenly whatever their time, and the timer knows every partition without listing any.
Beside each row, in the same partition, an index row `t|<delete after>|<key>` names it (with the row's
fields). Both are written in one entity-group transaction: one round trip, and never one without the
other. The timer reads each shard's index rows up to now (one row-key range per shard, returning only
what is due) and deletes each due row with its index row, `BATCH_PAIRS` pairs per transaction.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.adapters.storage import TRANSACTION_LIMIT, StorageAccount, Stored, Table
from shared.errors import ConflictError

INDEX_PREFIX = "t|"
"""Index row keys start with it; row keys are hex digests, which never contain `t` or `|`."""
DUE_FORMAT = "%Y%m%dT%H%M%S"
BATCH_PAIRS = TRANSACTION_LIMIT // 2
"""Rows deleted per transaction, with their index rows."""


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
        index = {**fields, **_index_row(partition, key, delete_after)}
        self.table.submit([("create", row), ("create", index)])

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
        and safe beside a racing tick (`Table.delete_many`).
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
        keys = [key for row in index_rows for key in (row.entity["Key"], row.entity["RowKey"])]
        self.table.delete_many(partition, keys)


EXPIRIES_TABLE = "expiries"
EXPIRY_SHARDS = 4
"""Pointers are written per visit or per launch, far below one partition's limit even at 10x: 4 shards."""


class Expiries:
    """When rows of other tables go: one pointer per row, in the account's `expiries` table (an ExpiringTable).

    For tables keyed for their readers (the meeting map by endpoint and visit, say), whose rows cannot sit
    in shards of their own. Write the pointer before the row it names, so no row is ever left without one.
    """

    def __init__(self, account: StorageAccount) -> None:
        self._account = account
        self._rows = ExpiringTable(account.table(EXPIRIES_TABLE), EXPIRY_SHARDS)

    def add(self, table: str, partition_key: str, row_key: str, delete_after: datetime) -> None:
        """Idempotent: a second pointer to the same row keeps the first one's time."""
        fields = {"TargetTable": table, "TargetPartition": partition_key, "TargetRow": row_key}
        self._add(f"{table}\n{partition_key}\n{row_key}", fields, delete_after)

    def add_blob(self, container: str, name: str, delete_after: datetime) -> None:
        """The same for a blob (an HL7 message too large for its queue message, kept with its poison copy)."""
        self._add(f"blob\n{container}\n{name}", {"TargetContainer": container, "TargetBlob": name}, delete_after)

    def _add(self, target: str, fields: dict[str, Any], delete_after: datetime) -> None:
        with contextlib.suppress(ConflictError):
            self._rows.create(hashlib.sha256(target.encode()).hexdigest(), fields, delete_after)

    def delete_due(self, now: datetime) -> int:
        """Delete every row whose time has come, then its pointer; returns how many."""
        return self._rows.delete_due(now, before_delete=self._delete_target)

    def _delete_target(self, pointer: Stored) -> None:
        entity = pointer.entity
        if "TargetContainer" in entity:
            self._account.container(entity["TargetContainer"]).delete(entity["TargetBlob"])
        else:
            self._account.table(entity["TargetTable"]).delete(entity["TargetPartition"], entity["TargetRow"])


def _index_row(partition: str, key: str, delete_after: datetime) -> dict[str, Any]:
    return {
        "PartitionKey": partition,
        "RowKey": f"{INDEX_PREFIX}{delete_after.astimezone(UTC):{DUE_FORMAT}}|{key}",
        "Key": key,
    }


def _if_not_modified() -> Any:
    from azure.core import MatchConditions

    return MatchConditions.IfNotModified
