"""Wiring: the one place that builds adapters from settings, lazily and once per process.

Triggers ask here for what their service needs; nothing is built at import, so a bad setting
fails the first call that needs it (with a message naming the setting) instead of the indexing
of every function, and heavy SDKs load only on the path that uses them.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

from shared.adapters.storage import Storage
from shared.settings import get_settings

if TYPE_CHECKING:
    from shared.adapters.config_store import ConfigStore
    from shared.adapters.entra import EntraTokenValidator
    from shared.adapters.phone_numbers import PhoneNumberProvider
    from shared.adapters.smart import SigningKey, SmartClient
    from shared.adapters.storage import Queue

# azure-core logs every request and response at INFO: noise and cost in Application Insights.
logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)


@functools.cache
def get_storage() -> Storage:
    return Storage(get_settings())


@functools.cache
def get_config_store() -> ConfigStore:
    from shared.adapters.config_store import ConfigStore

    return ConfigStore(get_storage().control)


@functools.cache
def get_token_validator() -> EntraTokenValidator:
    """The Entra token validator; raises SettingsError when the Entra settings are missing."""
    from shared.adapters.entra import EntraTokenValidator

    return EntraTokenValidator(get_settings().require_entra())


@functools.cache
def get_signing_keys() -> tuple[SigningKey, ...]:
    """Our Epic private keys (current first); raises SettingsError naming a missing or bad one."""
    from shared.adapters.smart import signing_keys

    return tuple(signing_keys(get_settings().require_epic()))


@functools.cache
def get_smart_client() -> SmartClient:
    from shared.adapters.smart import SmartClient

    return SmartClient(get_settings().require_epic().client_id, get_signing_keys()[0])


PHONE_NUMBER_ORDERS_QUEUE = "phone-number-orders"
"""Control-account queue of phone-number purchases (no patient data), drained by fulfil_phone_number_order."""


def get_phone_number_orders() -> Queue:
    return get_storage().control.queue(PHONE_NUMBER_ORDERS_QUEUE)


@functools.cache
def get_phone_number_provider() -> PhoneNumberProvider:
    """ACS when PHONE_NUMBER_PROVIDER=acs (needs ACS_*), else the sandbox. Raises SettingsError."""
    from shared.adapters.phone_numbers import AcsPhoneNumberProvider, SandboxPhoneNumberProvider
    from shared.errors import SettingsError

    settings = get_settings()
    if settings.phone_number_provider == "sandbox":
        return SandboxPhoneNumberProvider()
    if settings.acs is None:
        raise SettingsError("PHONE_NUMBER_PROVIDER=acs needs ACS_ENDPOINT or ACS_CONNECTION_STRING.")
    return AcsPhoneNumberProvider(settings.acs)


def reset() -> None:
    """Forget every cached setting and client: for tests and the local host after a settings change."""
    for cached in (
        get_settings,
        get_storage,
        get_config_store,
        get_token_validator,
        get_signing_keys,
        get_smart_client,
        get_phone_number_provider,
    ):
        cached.cache_clear()
