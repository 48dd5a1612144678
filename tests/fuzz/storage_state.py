"""A fingerprint of everything in the test Azurite (every account's table rows, queue lengths and blobs), to
show that a refused request changed nothing. Empty tables, queues and containers are left out: adapters
create them on first use, reads included, and an empty one holds nothing."""

from __future__ import annotations

from collections.abc import Mapping

from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueServiceClient

STORAGE_SETTINGS = ("CONTROL_STORAGE", "GEO_US_STORAGE", "GEO_EU_STORAGE", "GEO_APAC_STORAGE")


def storage_state(env: Mapping[str, str]) -> dict[str, object]:
    state: dict[str, object] = {}
    for setting in STORAGE_SETTINGS:
        connection = env[setting]
        tables = TableServiceClient.from_connection_string(connection)
        for table in tables.list_tables():
            client = tables.get_table_client(table.name)
            rows = sorted((e["PartitionKey"], e["RowKey"], e.metadata["etag"]) for e in client.list_entities())
            if rows:
                state[f"{setting}/table/{table.name}"] = rows
        queues = QueueServiceClient.from_connection_string(connection)
        for queue in queues.list_queues():
            client = queues.get_queue_client(queue.name)
            if length := client.get_queue_properties().approximate_message_count:
                state[f"{setting}/queue/{queue.name}"] = length
        blobs = BlobServiceClient.from_connection_string(connection)
        for container in blobs.list_containers():
            client = blobs.get_container_client(container.name)
            if names := sorted(b.name for b in client.list_blobs()):
                state[f"{setting}/blob/{container.name}"] = names
    return state
