"""The app's Azure identity, for every SDK client that connects without a key.

The function app has only a user-assigned identity. azure-identity's `DefaultAzureCredential` takes
`managed_identity_client_id=None` to mean the system-assigned one (and reads AZURE_CLIENT_ID only when the
argument is absent), so a credential built without the client id fails at every token request. Here a
credential is built only for a named identity.
"""

from __future__ import annotations

import functools
from typing import Any

from shared.errors import SettingsError


@functools.cache
def managed_identity(client_id: str | None) -> Any:
    """One DefaultAzureCredential per user-assigned identity, shared by all clients.

    Raises SettingsError when `client_id` is empty. azure-identity is imported here, on first use: it is heavy
    and most invocations never need it.
    """
    if not client_id:
        raise SettingsError(
            "Setting AZURE_CLIENT_ID is missing: Azure credentials name the app's user-assigned identity "
            "(storage connections may set <NAME>__clientId instead)."
        )
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(managed_identity_client_id=client_id)
