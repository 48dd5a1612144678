"""Azure Tables and Queues per storage account, routed by geography.

`Storage` holds the control account and one account per served geography; code that handles an
organisation's data asks `Storage.for_geo(org_geo)` and gets that geography's tables and queues only,
so there is no call that writes one geography's data into another account. Tables and queues are
created on first use (idempotently, once per process). Updates are conditional on ETags.
The SDKs are imported here, on first use, not when the app is indexed.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import logging
import os
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.adapters.identity import managed_identity
from shared.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PreconditionFailedError,
    SettingsError,
    UpstreamError,
)
from shared.hostconfig import get_host_config
from shared.settings import Settings, StorageConnection

if TYPE_CHECKING:
    from azure.data.tables import TableClient, TableServiceClient
    from azure.storage.blob import BlobServiceClient, ContainerClient
    from azure.storage.queue import QueueClient, QueueServiceClient

    from shared.adapters.metering import StorageMeter

logger = logging.getLogger(__name__)

QUEUE_MESSAGE_LIMIT = 64 * 1024
"""Azure Queue Storage refuses messages above 64 KiB (after encoding)."""

TRANSACTION_LIMIT = 100
"""Operations in one entity-group transaction, at most (Azure Tables)."""

CLIENT_TIMEOUTS: dict[str, Any] = {"connection_timeout": 5, "read_timeout": 20}


@dataclass(frozen=True)
class Stored:
    """An entity as read, with the ETag a conditional update must present."""

    entity: dict[str, Any]
    etag: str


class Table:
    """One table with the verbs our services need; azure-core errors become shared.errors."""

    def __init__(self, client: TableClient) -> None:
        self._client = client

    @property
    def name(self) -> str:
        return self._client.table_name

    def get(self, partition_key: str, row_key: str) -> Stored:
        """Raises NotFoundError when the entity does not exist, also at once for a key no entity can have
        (a caller's id with `/` in it, say), which the service would refuse with an error."""
        if not (storable_key(partition_key) and storable_key(row_key)):
            raise NotFoundError(f"Not found in table {self.name}.")
        with _translated(f"table {self.name}"):
            entity = self._client.get_entity(partition_key, row_key)
        return _stored(entity)

    def create(self, entity: dict[str, Any]) -> str:
        """Insert a new entity and return its ETag. Raises ConflictError when it exists."""
        with _translated(f"table {self.name}"):
            return self._client.create_entity(entity)["etag"]

    def replace(self, entity: dict[str, Any], etag: str) -> str:
        """Replace an entity only if it is unchanged since `etag` was read.

        Raises PreconditionFailedError when someone else changed it first, NotFoundError when gone.
        """
        from azure.core import MatchConditions
        from azure.data.tables import UpdateMode

        with _translated(f"table {self.name}"):
            return self._client.update_entity(
                entity, mode=UpdateMode.REPLACE, etag=etag, match_condition=MatchConditions.IfNotModified
            )["etag"]

    def upsert(self, entity: dict[str, Any]) -> str:
        """Insert or replace unconditionally: for records that only one writer owns."""
        from azure.data.tables import UpdateMode

        with _translated(f"table {self.name}"):
            return self._client.upsert_entity(entity, mode=UpdateMode.REPLACE)["etag"]

    def delete(self, partition_key: str, row_key: str, etag: str | None = None) -> None:
        """Delete if present (idempotent); with `etag`, only if unchanged since read."""
        from azure.core import MatchConditions

        condition = {"etag": etag, "match_condition": MatchConditions.IfNotModified} if etag else {}
        with _translated(f"table {self.name}"):
            self._client.delete_entity(partition_key, row_key, **condition)

    def submit(self, operations: Sequence[tuple[Any, ...]]) -> None:
        """One entity-group transaction (one partition, at most 100 operations): all happen or none.

        Operations are the SDK's (`("create", entity)`, `("delete", entity, {"etag": ...})`, ...). Raises
        ConflictError when a created entity exists, NotFoundError when a deleted one is gone.
        """
        from azure.data.tables import TableTransactionError

        with _translated(f"table {self.name}"):
            try:
                self._client.submit_transaction(list(operations))
            except TableTransactionError as exc:  # carries the status of the operation that failed
                if exc.status_code == 404:
                    raise NotFoundError(f"Not found in table {self.name}.") from exc
                if exc.status_code == 409:
                    raise ConflictError(f"Already exists in table {self.name}.") from exc
                raise

    def delete_many(self, partition_key: str, row_keys: Sequence[str]) -> None:
        """Delete rows of one partition, 100 per transaction; idempotent (where one is gone already, that
        batch goes one row at a time)."""
        for offset in range(0, len(row_keys), TRANSACTION_LIMIT):
            batch = row_keys[offset : offset + TRANSACTION_LIMIT]
            try:
                self.submit([("delete", {"PartitionKey": partition_key, "RowKey": key}) for key in batch])
            except NotFoundError:
                for key in batch:
                    self.delete(partition_key, key)

    def list_partition(self, partition_key: str, select: Sequence[str] | None = None) -> Iterator[Stored]:
        """Every entity of one partition: the only kind of query hot paths make."""
        yield from self.query("PartitionKey eq @pk", {"pk": partition_key}, select)

    def query(
        self, query_filter: str, parameters: dict[str, Any], select: Sequence[str] | None = None
    ) -> Iterator[Stored]:
        with _translated(f"table {self.name}"):
            for entity in self._client.query_entities(
                query_filter, parameters=parameters, select=list(select) if select else None
            ):
                yield _stored(entity)

    def query_page(
        self, query_filter: str, parameters: dict[str, Any], limit: int, select: Sequence[str] | None = None
    ) -> list[Stored]:
        """At most `limit` entities matching the filter, in key order: one page, one request or a few
        (the service may cut a page short; the SDK then follows its continuation)."""
        with _translated(f"table {self.name}"):
            entities = self._client.query_entities(
                query_filter, parameters=parameters, select=list(select) if select else None, results_per_page=limit
            )
            found = []
            for entity in entities:
                found.append(_stored(entity))
                if len(found) == limit:
                    break
            return found


class Queue:
    """One queue; messages are JSON, encoded as host.json's messageEncoding tells the trigger."""

    def __init__(self, client: QueueClient) -> None:
        self._client = client

    @property
    def name(self) -> str:
        return self._client.queue_name

    @property
    def client(self) -> QueueClient:
        """The SDK client, for the local host's receive / update / delete loop."""
        return self._client

    def send(
        self, payload: dict[str, Any], *, delay_seconds: int | None = None, time_to_live: int | None = None
    ) -> str:
        """Enqueue `payload` (deleted by the service after `time_to_live` seconds, default 7 days); returns the
        message id. Raises InvalidRequestError above 64 KiB."""
        content = encode_queue_message(payload)
        with _translated(f"queue {self.name}"):
            return self._client.send_message(content, visibility_timeout=delay_seconds, time_to_live=time_to_live).id

    def peek(self, limit: int = 32) -> list[Any]:
        """Up to `limit` (at most 32) visible messages, unchanged: each has id, content, inserted_on, expires_on."""
        with _translated(f"queue {self.name}"):
            return list(self._client.peek_messages(max_messages=limit))

    def receive(self, lease_seconds: int) -> Iterator[Any]:
        """Every visible message in turn, each invisible for `lease_seconds` (unless `release`d or deleted)."""
        with _translated(f"queue {self.name}"):
            yield from self._client.receive_messages(messages_per_page=32, visibility_timeout=lease_seconds)

    def release(self, message: Any) -> None:
        """Make a received message visible again at once."""
        with _translated(f"queue {self.name}"):
            self._client.update_message(message, visibility_timeout=0)

    def delete(self, message: Any) -> None:
        with _translated(f"queue {self.name}"):
            self._client.delete_message(message)


MAX_KEY_BYTES = 1024
_KEY_DISALLOWED = frozenset("/\\#?") | {chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))}


def storable_key(key: str) -> bool:
    """Whether Azure Tables can hold `key` as a PartitionKey or RowKey: at most 1 KiB, none of `/ \\ # ?`
    or control characters (https://learn.microsoft.com/en-us/rest/api/storageservices/
    understanding-the-table-service-data-model#characters-disallowed-in-key-fields), and valid UTF-8."""
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return size <= MAX_KEY_BYTES and not _KEY_DISALLOWED.intersection(key)


def encode_queue_message(payload: dict[str, Any]) -> str:
    """The queue message text the trigger will decode back into `payload`.

    JSON with ensure_ascii keeps every character XML-safe, so "none" encoding is lossless.
    """
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=True)
    if get_host_config().queues.message_encoding == "base64":
        text = base64.b64encode(text.encode("ascii")).decode("ascii")
    if len(text) > QUEUE_MESSAGE_LIMIT:
        raise InvalidRequestError(f"Queue message of {len(text)} bytes exceeds the 64 KiB queue limit.")
    return text


class Container:
    """One blob container: where payloads too large for a queue message wait for their queue function."""

    def __init__(self, client: ContainerClient) -> None:
        self._client = client

    def upload(self, name: str, data: bytes) -> None:
        with _translated(f"container {self._client.container_name}"):
            self._client.upload_blob(name, data, overwrite=True)

    def download(self, name: str) -> bytes:
        """Raises NotFoundError when the blob is gone."""
        with _translated(f"container {self._client.container_name}"):
            return self._client.download_blob(name).readall()

    def delete(self, name: str) -> None:
        """Idempotent."""
        from azure.core.exceptions import ResourceNotFoundError

        with _translated(f"container {self._client.container_name}"), contextlib.suppress(ResourceNotFoundError):
            self._client.delete_blob(name)


class StorageAccount:
    """The tables and queues of one storage account; clients are built on first use and cached."""

    def __init__(self, connection: StorageConnection, *, meter: StorageMeter | None = None) -> None:
        self.connection = connection
        self._meter = meter
        self._tables: dict[str, Table] = {}
        self._queues: dict[str, Queue] = {}
        self._containers: dict[str, Container] = {}

    @property
    def label(self) -> str:
        """The setting that names this account: safe to log, unlike its connection string."""
        return self.connection.setting

    def table(self, name: str) -> Table:
        """The table `name`, created if it does not exist yet."""
        if name not in self._tables:
            service = self.table_service
            with _translated(f"table {name}"):
                service.create_table_if_not_exists(name)
            self._tables[name] = Table(service.get_table_client(name))
        return self._tables[name]

    def queue(self, name: str) -> Queue:
        """The queue `name`, created if it does not exist yet."""
        if name not in self._queues:
            from azure.core.exceptions import ResourceExistsError

            client = self.queue_service.get_queue_client(name)
            with _translated(f"queue {name}"), contextlib.suppress(ResourceExistsError):
                client.create_queue()
            self._queues[name] = Queue(client)
        return self._queues[name]

    def container(self, name: str) -> Container:
        """The blob container `name`, created if it does not exist yet."""
        if name not in self._containers:
            from azure.core.exceptions import ResourceExistsError

            client = self.blob_service.get_container_client(name)
            with _translated(f"container {name}"), contextlib.suppress(ResourceExistsError):
                client.create_container()
            self._containers[name] = Container(client)
        return self._containers[name]

    def ping(self) -> None:
        """One cheap read on the table and the queue service; raises UpstreamError if either fails."""
        with _translated(f"storage {self.label}"):
            next(iter(self.table_service.list_tables(results_per_page=1, retry_total=0).by_page()), None)
            next(iter(self.queue_service.list_queues(results_per_page=1, retry_total=0).by_page()), None)

    @functools.cached_property
    def table_service(self) -> TableServiceClient:
        from azure.data.tables import TableServiceClient

        return self._build(TableServiceClient, self.connection.table_uri)

    @functools.cached_property
    def queue_service(self) -> QueueServiceClient:
        from azure.storage.queue import QueueServiceClient

        return self._build(QueueServiceClient, self.connection.queue_uri)

    @functools.cached_property
    def blob_service(self) -> BlobServiceClient:
        from azure.storage.blob import BlobServiceClient

        if self.connection.uses_identity and not self.connection.blob_uri:
            raise SettingsError(f"Setting {self.label}__blobServiceUri is missing.")
        return self._build(BlobServiceClient, self.connection.blob_uri)

    def _build(self, client_type: Callable[..., Any], endpoint: str | None) -> Any:
        options = {**CLIENT_TIMEOUTS, **_environment_options()}
        if self._meter:
            options["raw_response_hook"] = self._meter
        if self.connection.connection_string:
            return client_type.from_connection_string(self.connection.connection_string, **options)
        return client_type(endpoint, credential=managed_identity(self.connection.client_id), **options)


def _environment_options() -> dict[str, Any]:
    """Client options that spare every storage call requests' scan of the environment.

    azure-core's `RequestsTransport` leaves requests' `trust_env` on (`use_env_settings`, default True), and
    then requests merges the environment into each request: every `*_proxy` variable, the host against
    `no_proxy`, `~/.netrc`, and `REQUESTS_CA_BUNDLE` / `CURL_CA_BUNDLE` for `verify`. Read once here, as
    clients are built, the CA bundle becomes `connection_verify` and `use_env_settings=False` drops the
    per-call scan: the same requests. Where a proxy variable is set the SDK's default stays (requests alone
    applies `no_proxy` exactly). A `~/.netrc` entry would only have replaced storage's own Authorization.
    """
    if urllib.request.getproxies():
        return {}
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    return {"use_env_settings": False, **({"connection_verify": bundle} if bundle else {})}


class Storage:
    """The control account and one account per served geography: the only way to reach storage."""

    def __init__(self, settings: Settings, *, meter: StorageMeter | None = None) -> None:
        self.geos = settings.geos
        self.control = StorageAccount(settings.control_storage, meter=meter)
        self._geo_accounts = {
            geo: StorageAccount(connection, meter=meter) for geo, connection in settings.geo_storage.items()
        }

    def for_geo(self, geo: str) -> StorageAccount:
        """The account of `geo`. Raises SettingsError when this deployment does not serve it."""
        try:
            return self._geo_accounts[geo]
        except KeyError:
            raise SettingsError(f"Geography {geo!r} is not served by this deployment (setting GEOS).") from None


def _stored(entity: Any) -> Stored:
    return Stored(entity=dict(entity), etag=entity.metadata["etag"])


class _translated:
    """Turn azure-core exceptions raised inside the block into shared.errors, keeping the cause."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> bool:
        if exc is None:
            return False
        from azure.core import exceptions as azure_errors

        if isinstance(exc, azure_errors.ResourceNotFoundError):
            raise NotFoundError(f"Not found in {self.what}.") from exc
        if isinstance(exc, azure_errors.ResourceModifiedError):
            raise PreconditionFailedError(f"Changed concurrently in {self.what}.") from exc
        if isinstance(exc, azure_errors.ResourceExistsError):
            raise ConflictError(f"Already exists in {self.what}.") from exc
        if isinstance(exc, azure_errors.ClientAuthenticationError):
            raise UpstreamError(f"Storage refused our credentials for {self.what}.", retryable=False) from exc
        if isinstance(exc, azure_errors.HttpResponseError):
            status = exc.status_code or 0
            if status == 412:
                raise PreconditionFailedError(f"Changed concurrently in {self.what}.") from exc
            retryable = status in (408, 429) or status >= 500
            raise UpstreamError(f"Storage error {status} in {self.what}.", retryable=retryable) from exc
        if isinstance(exc, (azure_errors.ServiceRequestError, azure_errors.ServiceResponseError)):
            raise UpstreamError(f"Storage unreachable for {self.what}.", retryable=True) from exc
        return False
