"""The app's Azure identity, for every SDK client that connects without a key."""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def managed_identity(client_id: str | None = None) -> Any:
    """One DefaultAzureCredential per identity (system-assigned when `client_id` is None), shared by all clients.

    azure-identity is imported here, on first use: it is heavy and most invocations never need it.
    """
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(managed_identity_client_id=client_id)
