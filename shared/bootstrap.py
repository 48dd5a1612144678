"""Wiring: the one place that builds adapters from settings, lazily and once per process.

Triggers ask here for what their service needs; nothing is built at import, so a bad setting
fails the first call that needs it (with a message naming the setting) instead of the indexing
of every function, and heavy SDKs load only on the path that uses them.
"""

from __future__ import annotations

import functools
import logging
from urllib.parse import urlsplit

from shared.adapters.join_tokens import TableJoinTokens
from shared.adapters.recording_ehr import RecordingEhrWriteBack
from shared.adapters.storage import Storage
from shared.domain.context_token import HmacContextTokenVerifier
from shared.domain.sms import SmsSender
from shared.errors import SettingsError
from shared.services.device_test import DEVICE_TEST_PURPOSE, ContextTokenVerifier, EhrWriteBack
from shared.services.join import JoinTokens
from shared.services.meetings import MeetingService
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


@functools.cache
def get_meeting_service() -> MeetingService:
    """Teams through Graph, or the sandbox (refused unless this app is only reachable on localhost)."""
    settings = get_settings()
    if settings.meeting_provider == "graph":
        from shared.adapters.graph_meetings import GraphMeetingService

        assert settings.graph is not None  # load_settings requires it for the graph provider
        return GraphMeetingService(settings.graph)
    if not sandbox_allowed():
        raise SettingsError("Setting MEETING_PROVIDER=sandbox is for localhost only; set it to graph.")
    from shared.adapters.sandbox_meetings import SandboxMeetingService

    return SandboxMeetingService(settings.public_base_url)


def sandbox_allowed() -> bool:
    """Sandbox meetings are served only by an app that is reachable on localhost alone."""
    settings = get_settings()
    return settings.meeting_provider == "sandbox" and urlsplit(settings.public_base_url).hostname in (
        "127.0.0.1",
        "localhost",
    )


@functools.cache
def get_join_tokens() -> JoinTokens:
    return TableJoinTokens(get_storage())


@functools.cache
def get_ehr_write_back() -> EhrWriteBack:
    return RecordingEhrWriteBack(get_storage())


@functools.cache
def get_device_test_verifier() -> ContextTokenVerifier:
    """HMAC over CONTEXT_TOKEN_SECRET until the configuration API provides the real verifier."""
    secret = get_settings().context_token_secret
    if secret is None:
        raise SettingsError("Setting CONTEXT_TOKEN_SECRET is missing; see the settings table in README.md.")
    return HmacContextTokenVerifier(secret, DEVICE_TEST_PURPOSE)


def reset() -> None:
    """Forget every cached setting and client: for tests and the local host after a settings change."""
    for cached in (
        get_settings,
        get_storage,
        get_sms_sender,
        get_meeting_service,
        get_join_tokens,
        get_ehr_write_back,
        get_device_test_verifier,
    ):
        cached.cache_clear()
