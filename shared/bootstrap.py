"""Wiring: the one place that builds adapters from settings, lazily and once per process.

Triggers ask here for what their service needs; nothing is built at import, so a bad setting
fails the first call that needs it (with a message naming the setting) instead of the indexing
of every function, and heavy SDKs load only on the path that uses them.
"""

from __future__ import annotations

import functools
import logging
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from shared.errors import SettingsError
from shared.lazy import lazy_import
from shared.queue_names import PHONE_NUMBER_ORDERS_QUEUE

# Adapters, services and domain modules are imported inside the getters that build them: indexing
# the app imports this module, and should load none of them (cold start).
if TYPE_CHECKING:
    from shared.adapters.config_cache import CachedDirectory
    from shared.adapters.config_store import ConfigStore
    from shared.adapters.entra import EntraTokenValidator
    from shared.adapters.metering import StorageMeter
    from shared.adapters.opt_outs import OptOutList
    from shared.adapters.phone_numbers import PhoneNumberProvider
    from shared.adapters.portal_sessions import PortalSessions
    from shared.adapters.sender_keys import SenderKeyResolver
    from shared.adapters.smart import SigningKey, SmartClient
    from shared.adapters.storage import Queue, Storage
    from shared.adapters.visit_log import VisitLog
    from shared.domain.sms import SmsSender
    from shared.services.call_events import NotificationReader
    from shared.services.device_test import ContextTokenVerifier
    from shared.services.ehr_write_back import EhrWriteBack
    from shared.services.join import JoinTokens
    from shared.services.launch import LaunchPorts
    from shared.services.meetings import MeetingService
    from shared.services.notices import NoticePolicy
    from shared.services.poison import PoisonPolicy
    from shared.settings import Settings

settings_module = lazy_import("shared.settings")


def get_settings() -> Settings:
    """The process's validated settings (loaded on first use; see shared.settings)."""
    return settings_module.get_settings()


# azure-core logs every request and response at INFO: noise and cost in Application Insights.
logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)


GRAPH_EVENTS_ROUTE = "events/graph"
"""Our webhook for Microsoft Graph change notifications (shared/triggers/graph_events.py)."""

_storage_meter: StorageMeter | None = None
"""Set only by benchmarks (`use_storage_meter`); production storage runs without a response hook."""


def use_storage_meter(meter: StorageMeter | None) -> None:
    """Count every storage call the app makes from now on with `meter` (None: stop counting).

    For benchmarks, which print transactions per message. Forgets every cached client (`reset`) so that
    all of them are rebuilt on the metered Storage.
    """
    global _storage_meter
    _storage_meter = meter
    reset()


@functools.cache
def get_storage() -> Storage:
    from shared.adapters.storage import Storage

    return Storage(get_settings(), meter=_storage_meter)


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
def get_opt_outs(geo: str) -> OptOutList:
    """The SMS opt-out list of `geo`; raises SettingsError when OPT_OUT_HASH_KEY is not set."""
    from shared.adapters.opt_outs import OptOutList

    return OptOutList(get_storage().for_geo(geo), get_settings().require_opt_out_hash_key())


@functools.cache
def get_meeting_service() -> MeetingService:
    """Teams through Graph, or the sandbox (refused unless this app is only reachable on localhost)."""
    settings = get_settings()
    if settings.meeting_provider == "graph":
        from shared.adapters.graph_meetings import GraphMeetingService

        assert settings.graph is not None  # load_settings requires it for the graph provider
        return GraphMeetingService(settings.graph, notification_url=graph_notification_url())
    if not sandbox_allowed():
        raise SettingsError("Setting MEETING_PROVIDER=sandbox is for localhost only; set it to graph.")
    from shared.adapters.sandbox_meetings import SandboxMeetingService

    return SandboxMeetingService(settings.public_base_url)


@functools.cache
def get_notification_reader() -> NotificationReader | None:
    """What authenticates and decrypts Graph's rich notifications; None without Graph or without
    GRAPH_NOTIFICATION_KEY (then no subscription asked for any, and none is trusted). Raises SettingsError."""
    graph = get_settings().graph
    if graph is None or graph.notification_key is None:
        return None
    from shared.adapters.graph_notifications import (
        GraphNotificationReader,
        ValidationTokens,
        load_notification_certificate,
    )

    if not graph.client_id:
        raise SettingsError("Setting GRAPH_CLIENT_ID is needed to check Graph's notification validation tokens.")
    return GraphNotificationReader(
        load_notification_certificate(graph.notification_key, "GRAPH_NOTIFICATION_KEY"),
        ValidationTokens(keys_url=f"{graph.authority_host}/common/discovery/keys", app_id=graph.client_id),
    )


def graph_notification_url() -> str:
    """Where Graph delivers change notifications (and lifecycle notifications) for meeting call events."""
    return f"{get_settings().public_base_url.rstrip('/')}/api/{GRAPH_EVENTS_ROUTE}"


def sandbox_allowed() -> bool:
    """Sandbox meetings are served only by an app that is reachable on localhost alone."""
    settings = get_settings()
    return settings.meeting_provider == "sandbox" and urlsplit(settings.public_base_url).hostname in (
        "127.0.0.1",
        "localhost",
    )


@functools.cache
def get_join_tokens() -> JoinTokens:
    from shared.adapters.join_tokens import TableJoinTokens

    return TableJoinTokens(get_storage())


@functools.cache
def get_ehr_write_back() -> EhrWriteBack:
    """Epic over FHIR (EHR_WRITE_BACK_PROVIDER=epic), or the local recording."""
    if get_settings().ehr_write_back_provider == "epic":
        from shared.adapters.epic_write_back import EpicEhrWriteBack

        return EpicEhrWriteBack(get_directory(), get_smart_client(), get_storage())
    from shared.adapters.recording_ehr import RecordingEhrWriteBack

    return RecordingEhrWriteBack(get_storage())


@functools.cache
def get_device_test_verifier() -> ContextTokenVerifier:
    """Checks device-test links minted in the integration records (HMAC over CONTEXT_TOKEN_SECRET)."""
    from shared.domain.context_token import HmacContextTokenVerifier
    from shared.domain.integration_records import DEVICE_TEST_PURPOSE

    return HmacContextTokenVerifier(get_settings().require_context_token_secret(), DEVICE_TEST_PURPOSE)


@functools.cache
def get_config_store() -> ConfigStore:
    from shared.adapters.config_store import ConfigStore

    settings = get_settings()
    return ConfigStore(get_storage().control, legacy_tenant=settings.entra.legacy_tenant if settings.entra else "")


@functools.cache
def get_portal_sessions() -> PortalSessions:
    from shared.adapters.portal_sessions import PortalSessions

    return PortalSessions(get_storage().control)


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

    settings = get_settings()
    return SmartClient(settings.require_epic().client_id, get_signing_keys()[0], loopback_http=settings.loopback_http)


@functools.cache
def get_launch_ports() -> LaunchPorts:
    """What the SMART launch needs; launch states live in the endpoint's geography (they carry the visit id)."""
    from shared.adapters.config_store import ConfigStore
    from shared.adapters.user_map import UserMap
    from shared.services.launch import LaunchPorts

    storage = get_storage()
    return LaunchPorts(
        directory=get_directory(),
        smart=get_smart_client(),
        states=lambda geo: ConfigStore(storage.for_geo(geo)),
        sign_in=get_token_validator,
        users=UserMap(storage),
        storage=storage,
        meetings=get_meeting_service(),
        visits=get_visit_log(),
        notices=get_notice_policy(),
    )


@functools.cache
def get_visit_log() -> VisitLog:
    """Launches and joins per visit, for reports and for whether a patient has joined."""
    from shared.adapters.visit_log import VisitLog

    return VisitLog(get_storage())


def get_phone_number_orders() -> Queue:
    return get_storage().control.queue(PHONE_NUMBER_ORDERS_QUEUE)


@functools.cache
def get_phone_number_provider() -> PhoneNumberProvider:
    """ACS when PHONE_NUMBER_PROVIDER=acs (needs ACS_*), else the sandbox. Raises SettingsError."""
    from shared.adapters.phone_numbers import AcsPhoneNumberProvider, SandboxPhoneNumberProvider

    settings = get_settings()
    if settings.phone_number_provider == "sandbox":
        return SandboxPhoneNumberProvider()
    if settings.acs is None:
        raise SettingsError("PHONE_NUMBER_PROVIDER=acs needs ACS_ENDPOINT or ACS_CONNECTION_STRING.")
    return AcsPhoneNumberProvider(settings.acs)


@functools.cache
def get_directory() -> CachedDirectory:
    """Endpoint, organisation and sender keys for the message paths, cached briefly per process."""
    from shared.adapters.config_cache import CachedDirectory

    return CachedDirectory(get_config_store())


@functools.cache
def get_sender_key_resolver() -> SenderKeyResolver:
    from shared.adapters.sender_keys import SenderKeyResolver

    return SenderKeyResolver()


def get_notice_policy() -> NoticePolicy:
    from shared.services.notices import NoticePolicy

    settings = get_settings()
    return NoticePolicy(
        public_base_url=settings.public_base_url,
        phone_region=settings.default_phone_region,
        purge_grace=timedelta(minutes=settings.purge_grace_minutes),
        reporting_period=timedelta(days=settings.reporting_period_days),
    )


def get_poison_policy() -> PoisonPolicy:
    from shared.services.poison import PoisonPolicy

    settings = get_settings()
    return PoisonPolicy(
        retention=timedelta(days=settings.poison_retention_days),
        purge_grace=timedelta(minutes=settings.purge_grace_minutes),
        phone_region=settings.default_phone_region,
    )


def reset() -> None:
    """Forget every cached setting and client: for tests and the local host after a settings change."""
    for cached in (
        settings_module.get_settings,
        get_storage,
        get_sms_sender,
        get_opt_outs,
        get_meeting_service,
        get_notification_reader,
        get_join_tokens,
        get_ehr_write_back,
        get_device_test_verifier,
        get_config_store,
        get_portal_sessions,
        get_token_validator,
        get_signing_keys,
        get_smart_client,
        get_visit_log,
        get_launch_ports,
        get_phone_number_provider,
        get_directory,
        get_sender_key_resolver,
    ):
        cached.cache_clear()
