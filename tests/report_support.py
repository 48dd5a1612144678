"""Report tests' shared pieces: seeding thousands of rows fast, app settings for a module fixture, requests."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from itertools import groupby
from typing import Any

import azure.functions as func
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


@contextlib.contextmanager
def app_settings(env: dict[str, str]) -> Iterator[None]:
    """The process environment set to `env` for a module-scoped fixture (monkeypatch is per test)."""
    saved = dict(os.environ)
    os.environ.update(env)
    bootstrap.reset()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        bootstrap.reset()


def report_request(
    report: str, endpoint_id: str, params: dict[str, str], token: str | None, accept: str = "application/json"
) -> func.HttpRequest:
    """`GET /api/reports/endpoints/{endpointId}/{report}` as the worker hands it to the function."""
    headers = {"Accept": accept, **({"Authorization": f"Bearer {token}"} if token else {})}
    return func.HttpRequest(
        method="GET",
        url=f"http://127.0.0.1:7071/api/reports/endpoints/{endpoint_id}/{report}",
        headers=headers,
        params=params,
        route_params={"endpointId": endpoint_id},
        body=b"",
    )
