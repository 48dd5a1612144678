"""Wiring: the one place that builds adapters from settings, lazily and once per process.

Triggers ask here for what their service needs; nothing is built at import, so a bad setting
fails the first call that needs it (with a message naming the setting) instead of the indexing
of every function, and heavy SDKs load only on the path that uses them.
"""

from __future__ import annotations

import functools
import logging

from shared.adapters.storage import Storage
from shared.domain.sms import SmsSender
from shared.settings import get_settings

# azure-core logs every request and response at INFO: noise and cost in Application Insights.
logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)


@functools.cache
def get_storage() -> Storage:
    return Storage(get_settings())


@functools.cache
def get_sms_sender() -> SmsSender:
    """ACS in Azure, the outbox file locally (SMS_PROVIDER); the ACS SDK loads only when chosen."""
    settings = get_settings()
    if settings.sms_provider == "acs" and settings.acs is not None:
        from shared.adapters.acs_sms import AcsSmsSender

        return AcsSmsSender(settings.acs)
    from shared.adapters.outbox_sms import OutboxSmsSender

    return OutboxSmsSender(settings.sms_outbox_path)


def reset() -> None:
    """Forget every cached setting and client: for tests and the local host after a settings change."""
    get_settings.cache_clear()
    get_storage.cache_clear()
    get_sms_sender.cache_clear()
