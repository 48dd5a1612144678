"""Clients of Azure Communication Services (SMS, phone numbers), built from the ACS settings."""

from __future__ import annotations

from typing import Any, TypeVar

from shared.adapters.identity import managed_identity
from shared.settings import AcsConnection

ClientT = TypeVar("ClientT")

ACS_TIMEOUTS: dict[str, Any] = {"connection_timeout": 5, "read_timeout": 30}


def acs_client(client_type: type[ClientT], connection: AcsConnection, **options: Any) -> ClientT:
    """An ACS SDK client: by access key when a connection string is set, else by managed identity.

    `options` go to the client (e.g. `connection_verify=` for a stand-in's certificate in tests).
    """
    options = {**ACS_TIMEOUTS, **options}
    if connection.connection_string:
        return client_type.from_connection_string(connection.connection_string, **options)  # type: ignore[attr-defined]
    return client_type(connection.endpoint, managed_identity(connection.client_id), **options)
