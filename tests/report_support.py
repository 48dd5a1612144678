"""Seeding report tables fast: thousands of rows as batch transactions of 100 per partition."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby
from typing import Any

from azure.data.tables import TableClient

from shared import bootstrap
from shared.settings import get_settings

BATCH = 100


def upsert_in_batches(geo: str, table_name: str, rows: Sequence[dict[str, Any]]) -> None:
    """Upsert `rows` into `table_name` of `geo`'s account (created if missing), 100 per transaction."""
    bootstrap.get_storage().for_geo(geo).table(table_name)  # creates the table
    client = TableClient.from_connection_string(
        get_settings().geo_storage[geo].connection_string or "", table_name=table_name
    )
    for _, group in groupby(rows, key=lambda row: row["PartitionKey"]):
        partition = list(group)
        for start in range(0, len(partition), BATCH):
            client.submit_transaction([("upsert", row) for row in partition[start : start + BATCH]])
