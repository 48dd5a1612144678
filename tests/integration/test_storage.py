"""Geo-routed storage on Azurite: each geography's data lands in its own account and nowhere else."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueClient

from shared.adapters.storage import Storage, StorageAccount, encode_queue_message
from shared.errors import ConflictError, InvalidRequestError, NotFoundError, PreconditionFailedError, SettingsError
from shared.hostconfig import get_host_config
from shared.settings import KNOWN_GEOS, load_settings


@pytest.fixture
def storage(storage_env: dict[str, str]) -> Storage:
    return Storage(load_settings(storage_env))


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def test_each_geography_writes_only_to_its_own_account(storage: Storage, storage_env: dict[str, str]) -> None:
    table_name = unique("geo")
    for geo in KNOWN_GEOS:
        storage.for_geo(geo).table(table_name).create({"PartitionKey": "org", "RowKey": geo})

    for geo in KNOWN_GEOS:
        # Read each account directly with the SDK, bypassing our routing.
        direct = TableServiceClient.from_connection_string(storage_env[f"GEO_{geo}_STORAGE"])
        rows = [e["RowKey"] for e in direct.get_table_client(table_name).list_entities()]
        assert rows == [geo]
    control = TableServiceClient.from_connection_string(storage_env["CONTROL_STORAGE"])
    assert table_name not in [t.name for t in control.list_tables()]


def test_an_unserved_geography_has_no_account(storage_env: dict[str, str]) -> None:
    only_us = Storage(load_settings({**storage_env, "GEOS": "US"}))
    with pytest.raises(SettingsError, match="GEOS"):
        only_us.for_geo("EU")


def test_updates_are_conditional_on_etags(storage: Storage) -> None:
    table = storage.control.table(unique("etag"))
    first_etag = table.create({"PartitionKey": "p", "RowKey": "r", "version": 1})
    second_etag = table.replace({"PartitionKey": "p", "RowKey": "r", "version": 2}, first_etag)

    with pytest.raises(PreconditionFailedError):
        table.replace({"PartitionKey": "p", "RowKey": "r", "version": 3}, first_etag)
    stored = table.get("p", "r")
    assert (stored.entity["version"], stored.etag) == (2, second_etag)

    with pytest.raises(PreconditionFailedError):
        table.delete("p", "r", etag=first_etag)
    table.delete("p", "r", etag=second_etag)
    table.delete("p", "r")  # idempotent
    with pytest.raises(NotFoundError):
        table.get("p", "r")


def test_create_refuses_an_existing_entity(storage: Storage) -> None:
    table = storage.control.table(unique("dup"))
    table.create({"PartitionKey": "p", "RowKey": "r"})
    with pytest.raises(ConflictError):
        table.create({"PartitionKey": "p", "RowKey": "r"})


def test_partition_listing_reads_one_partition(storage: Storage) -> None:
    table = storage.control.table(unique("part"))
    for partition, row in [("a", "1"), ("a", "2"), ("b", "1")]:
        table.upsert({"PartitionKey": partition, "RowKey": row})
    assert sorted(s.entity["RowKey"] for s in table.list_partition("a")) == ["1", "2"]


def test_tables_and_queues_are_created_idempotently(storage_env: dict[str, str]) -> None:
    name = unique("idem")
    for _ in range(2):  # two processes' worth of first use
        account = StorageAccount(load_settings(storage_env).geo_storage["EU"])
        account.table(name)
        account.queue(name)


def test_queue_messages_are_encoded_as_host_json_says(storage: Storage, storage_env: dict[str, str]) -> None:
    queue_name = unique("q-")
    storage.for_geo("APAC").queue(queue_name).send({"kind": "test", "text": "é\r|^~\\&"})

    raw = QueueClient.from_connection_string(storage_env["GEO_APAC_STORAGE"], queue_name).receive_message()
    text = raw.content
    if get_host_config().queues.message_encoding == "base64":
        text = base64.b64decode(text).decode("utf-8")
    assert json.loads(text) == {"kind": "test", "text": "é\r|^~\\&"}


def test_queue_messages_above_64_kib_are_refused() -> None:
    with pytest.raises(InvalidRequestError, match="64 KiB"):
        encode_queue_message({"body": "x" * 70_000})


def test_blobs_of_a_geography_stay_in_its_account(storage: Storage, storage_env: dict[str, str]) -> None:
    from azure.storage.blob import BlobServiceClient

    name = unique("big-")
    container = storage.for_geo("EU").container(name)
    container.upload("m1", b"x" * 100_000)
    assert container.download("m1") == b"x" * 100_000
    direct = BlobServiceClient.from_connection_string(storage_env["GEO_US_STORAGE"])
    assert name not in [c.name for c in direct.list_containers()]
    container.delete("m1")
    container.delete("m1")  # idempotent
    with pytest.raises(NotFoundError):
        container.download("m1")


def test_the_meter_counts_transactions_and_entities_read(storage_env: dict[str, str]) -> None:
    from shared.adapters.metering import StorageMeter

    meter = StorageMeter()
    table = Storage(load_settings(storage_env), meter=meter).for_geo("US").table(unique("meter"))
    for row in range(5):
        table.upsert({"PartitionKey": "a" if row < 3 else "b", "RowKey": str(row)})
    meter.reset()
    assert len(list(table.list_partition("a"))) == 3
    table.get("b", "4")
    assert (meter.transactions, meter.entities_read) == (2, 4)


def test_the_meter_says_which_table_and_queue_each_call_went_to(storage_env: dict[str, str]) -> None:
    from shared.adapters.metering import Call, StorageMeter

    meter = StorageMeter(scope=lambda: "scope-a")
    account = Storage(load_settings(storage_env), meter=meter).for_geo("EU")
    table, queue = account.table(unique("calls")), account.queue(unique("calls"))
    meter.reset()
    table.create({"PartitionKey": "p", "RowKey": "r"})
    with pytest.raises(NotFoundError):
        table.get("p", "missing")
    queue.send({"n": 1})
    queue.send({"n": 2})
    account_name = dict(p.split("=", 1) for p in storage_env["GEO_EU_STORAGE"].split(";"))["AccountName"]
    assert meter.calls == {
        Call("scope-a", account_name, table.name, "POST", 201): 1,
        Call("scope-a", account_name, table.name, "GET", 404): 1,
        Call("scope-a", account_name, queue.name, "POST", 201): 2,
    }
    assert meter.transactions == 4


def closed_port() -> int:
    """A local port nothing listens on: a proxy there refuses every connection."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_environment_is_read_when_clients_are_built_not_per_call(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No proxy at build time: the clients never look again (a proxy set later is not even seen)."""
    table = storage.control.table(unique("env"))
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
    table.create({"PartitionKey": "p", "RowKey": "r"})
    assert table.get("p", "r").entity["RowKey"] == "r"


def test_a_proxy_in_the_environment_is_still_used(storage_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    unreachable = Storage(load_settings(storage_env)).control.queue_service.get_queue_client(unique("proxied"))
    from azure.core.exceptions import ServiceRequestError

    with pytest.raises(ServiceRequestError):  # refused by the proxy's port: the request went to the proxy
        unreachable.create_queue(retry_total=0)
