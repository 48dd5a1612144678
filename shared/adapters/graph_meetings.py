"""Teams meetings through Microsoft Graph (msgraph-sdk), app-only: `GraphMeetingService`.

One call per visit: `POST /users/{organizer}/onlineMeetings/createOrGet` with the visit's opaque
`externalId` (idempotent on Graph's side), then, if the meeting is not set up so yet, one
`PATCH /users/{organizer}/onlineMeetings/{id}` with the meeting options (createOrGet takes only chatInfo,
times, externalId, participants and subject: api-reference/v1.0/api/onlinemeeting-createorget.md):
`lobbyBypassSettings.scope = organization` (the organisation's people go straight in, patients, anonymous
guests, wait in the lobby), `allowedPresenters = organization` (Graph's default is everyone, patients
included) and `isEntryExitAnnounced` as the endpoint chose (resources/onlinemeeting.md).

Call events: `POST /beta/subscriptions` to the meeting's `meetingCallEvents` with rich notifications
(`includeResourceData`, our encryption certificate from GRAPH_NOTIFICATION_KEY, loaded on first use),
`PATCH` to renew, `POST .../reauthorize`, `DELETE` when the visit is over (Graph docs: api-reference/beta/api/
subscription-post-subscriptions.md, subscription-update.md, subscription-reauthorize.md,
subscription-delete.md). Graph allows one such subscription per app per meeting: a second POST is a 403,
which is not the meetings' access-policy 403 and is reported as what it is.

Authentication is app-only (client credentials): a client secret when `GRAPH_CLIENT_SECRET` is set
(local runs against a real tenant, tests against an Entra stand-in), else the function app's managed
identity. Either way Teams also needs an application access policy for the organiser, without which
Graph answers 403 (`MeetingsNotPermittedError`).

msgraph-sdk is asynchronous and its httpx client belongs to one event loop, so each service keeps one
private event loop on a daemon thread and runs every Graph call there; callers stay synchronous.
msgraph-sdk, httpx and azure-identity are imported when a service is built, never at module load.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar
from urllib.parse import quote, urlsplit

from shared.adapters.graph_notifications import NotificationCertificate, load_notification_certificate
from shared.adapters.identity import managed_identity
from shared.domain.meetings import CallSubscription, Meeting, MeetingOptions, VisitKey
from shared.errors import MeetingsNotPermittedError, NotFoundError, SettingsError, UpstreamError
from shared.settings import DEFAULT_AUTHORITY_HOST, GraphConnection

if TYPE_CHECKING:
    from msgraph import GraphServiceClient
    from msgraph.generated.models.online_meeting import OnlineMeeting

logger = logging.getLogger(__name__)

T = TypeVar("T")

CONNECT_TIMEOUT_SECONDS = 5.0
REQUEST_TIMEOUT_SECONDS = 20.0
CALL_TIMEOUT_SECONDS = 60.0
"""Upper bound on one create_or_get, token and one throttling pause included."""

MAX_RETRY_AFTER_SECONDS = 10.0
"""Longest Retry-After we wait out in-line: a person is waiting on the page. Longer: fail, retryable."""

DEFAULT_RETRY_AFTER_SECONDS = 1.0

SUBSCRIPTION_FORBIDDEN = (
    "Graph refused the call-event subscription (403): the app lacks OnlineMeetings.Read.All, or it holds "
    "this meeting's subscription already (Graph allows one per app and meeting)."
)


class GraphMeetingService:
    """`MeetingService` over Microsoft Graph. Build once per process (bootstrap caches it)."""

    def __init__(self, connection: GraphConnection, *, notification_url: str, verify: str | bool = True) -> None:
        """`notification_url`: our webhook for change notifications (`/api/events/graph`); `verify`: CA bundle
        for Graph and Entra (tests' self-signed stand-ins), True for the system CAs."""
        self._app_id = connection.client_id
        self._notification_url = notification_url
        self._notification_key = connection.notification_key
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, name="graph-meetings", daemon=True).start()
        self._client = _graph_client(connection, verify)
        # Meeting call events are a beta resource: their subscriptions are made at the beta endpoint.
        self._beta = _graph_client(replace(connection, base_url=_beta_url(connection.base_url)), verify)

    def create_or_get(
        self,
        key: VisitKey,
        organizer_user_id: str,
        subject: str,
        start: datetime,
        end: datetime,
        options: MeetingOptions,
    ) -> Meeting:
        """The visit's Teams meeting, created if Graph has none with its externalId, set up with `options`.

        Raises MeetingsNotPermittedError (403: no application access policy for the organiser),
        UpstreamError (retryable on throttling, 5xx and network failures).
        """
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("Meeting times must be timezone-aware")
        meeting = self._run(self._create_or_get(key, organizer_user_id, subject, start, end, options))
        logger.info("Graph meeting ready for visit %s", key.external_id[:12])
        return meeting

    async def _create_or_get(
        self,
        key: VisitKey,
        organizer_user_id: str,
        subject: str,
        start: datetime,
        end: datetime,
        options: MeetingOptions,
    ) -> Meeting:
        from msgraph.generated.models.lobby_bypass_scope import LobbyBypassScope
        from msgraph.generated.models.lobby_bypass_settings import LobbyBypassSettings
        from msgraph.generated.models.online_meeting import OnlineMeeting
        from msgraph.generated.models.online_meeting_presenters import OnlineMeetingPresenters
        from msgraph.generated.users.item.online_meetings.create_or_get.create_or_get_post_request_body import (
            CreateOrGetPostRequestBody,
        )

        meetings = self._client.users.by_user_id(organizer_user_id).online_meetings
        body = CreateOrGetPostRequestBody(
            external_id=key.external_id, subject=subject, start_date_time=start, end_date_time=end
        )
        created: OnlineMeeting | None = await self._call(lambda: meetings.create_or_get.post(body))
        if created is None or not created.id or not created.join_web_url:
            raise UpstreamError("Graph returned a meeting without id or join URL.", retryable=True)
        lobby = created.lobby_bypass_settings
        if (
            lobby is None
            or lobby.scope != LobbyBypassScope.Organization
            or created.allowed_presenters != OnlineMeetingPresenters.Organization
            or created.is_entry_exit_announced != options.announce_entry_exit
        ):
            wanted = OnlineMeeting(
                lobby_bypass_settings=LobbyBypassSettings(scope=LobbyBypassScope.Organization),
                allowed_presenters=OnlineMeetingPresenters.Organization,
                is_entry_exit_announced=options.announce_entry_exit,
            )
            meeting_id = created.id
            await self._call(lambda: meetings.by_online_meeting_id(meeting_id).patch(wanted))
        return Meeting(id=created.id, join_url=created.join_web_url)

    @functools.cached_property
    def _certificate(self) -> NotificationCertificate:
        if not self._notification_key:
            raise SettingsError("Setting GRAPH_NOTIFICATION_KEY is needed to subscribe to Teams call events.")
        return load_notification_certificate(self._notification_key, "GRAPH_NOTIFICATION_KEY")

    def subscribe_call_events(self, join_url: str, client_state: str, expires_at: datetime) -> CallSubscription:
        """`POST /beta/subscriptions` for `communications/onlineMeetings(joinWebUrl='...')/meetingCallEvents`,
        rich notifications encrypted for our certificate, and lifecycle notifications, to our webhook.
        Raises SettingsError (no or a bad GRAPH_NOTIFICATION_KEY), UpstreamError."""
        from msgraph.generated.models.subscription import Subscription

        certificate = self._certificate
        resource = f"communications/onlineMeetings(joinWebUrl='{quote(join_url, safe='')}')/meetingCallEvents"
        body = Subscription(
            change_type="updated",
            notification_url=self._notification_url,
            lifecycle_notification_url=self._notification_url,
            resource=resource,
            expiration_date_time=expires_at,
            client_state=client_state,
            include_resource_data=True,
            encryption_certificate=certificate.certificate_b64,
            encryption_certificate_id=certificate.certificate_id,
        )
        created = self._run(self._call(lambda: self._beta.subscriptions.post(body), subscription=True))
        if created is None or not created.id or created.expiration_date_time is None:
            raise UpstreamError("Graph returned a subscription without id or expiry.", retryable=True)
        return CallSubscription(created.id, created.expiration_date_time)

    def renew_call_events(self, subscription_id: str, expires_at: datetime) -> datetime:
        """`PATCH /beta/subscriptions/{id}` with the new expiry (which reauthorizes too) and our current
        certificate (how Graph's docs rotate keys). Raises NotFoundError (Graph no longer has it: expired or
        removed), SettingsError, UpstreamError."""
        from msgraph.generated.models.subscription import Subscription

        certificate = self._certificate
        item = self._beta.subscriptions.by_subscription_id(subscription_id)
        body = Subscription(
            expiration_date_time=expires_at,
            encryption_certificate=certificate.certificate_b64,
            encryption_certificate_id=certificate.certificate_id,
        )
        renewed = self._run(self._call(lambda: item.patch(body), subscription=True))
        return renewed.expiration_date_time if renewed and renewed.expiration_date_time else expires_at

    def reauthorize_call_events(self, subscription_id: str) -> None:
        """`POST /beta/subscriptions/{id}/reauthorize`. Raises NotFoundError, UpstreamError."""
        item = self._beta.subscriptions.by_subscription_id(subscription_id)
        self._run(self._call(lambda: item.reauthorize.post(), subscription=True))

    def delete_call_events(self, subscription_id: str) -> None:
        """`DELETE /beta/subscriptions/{id}`; one Graph no longer has is gone already. Raises UpstreamError."""
        item = self._beta.subscriptions.by_subscription_id(subscription_id)
        with contextlib.suppress(NotFoundError):
            self._run(self._call(lambda: item.delete(), subscription=True))

    async def _call(self, request: Callable[[], Awaitable[T]], *, subscription: bool = False) -> T:
        """Run one Graph request, waiting out one throttling answer (Retry-After); translate failures
        (`subscription`: a subscription's 403 and 404 mean their own things)."""
        try:
            return await request()
        except Exception as exc:
            pause = self._retry_pause(exc)
            if pause is None:
                self._raise_translated(exc, subscription)
            logger.warning("Graph throttled a meeting call; retrying once in %.1f s", pause)
        await asyncio.sleep(pause)
        try:
            return await request()
        except Exception as exc:
            self._raise_translated(exc, subscription)

    @staticmethod
    def _retry_pause(exc: Exception) -> float | None:
        """Seconds to wait before the one retry of a 429/503, or None when not to retry in-line."""
        from kiota_abstractions.api_error import APIError

        if not isinstance(exc, APIError) or exc.response_status_code not in (429, 503):
            return None
        headers = {name.lower(): value for name, value in (exc.response_headers or {}).items()}
        raw = headers.get("retry-after", "")
        try:
            pause = float(raw) if raw else DEFAULT_RETRY_AFTER_SECONDS
        except ValueError:
            pause = DEFAULT_RETRY_AFTER_SECONDS  # an HTTP date: rare from Graph; wait the default
        return pause if 0 <= pause <= MAX_RETRY_AFTER_SECONDS else None

    def _raise_translated(self, exc: Exception, subscription: bool = False) -> NoReturn:
        """Raise our error for a Graph, Entra or network failure (`from exc`); anything else as it is."""
        import httpx
        from azure.core.exceptions import ClientAuthenticationError
        from kiota_abstractions.api_error import APIError

        if isinstance(exc, APIError):
            status = exc.response_status_code or 0
            if subscription and status == 404:
                raise NotFoundError("Graph no longer has the subscription.") from exc
            if subscription and status == 403:
                raise UpstreamError(SUBSCRIPTION_FORBIDDEN, retryable=False) from exc
            if status == 403:
                raise MeetingsNotPermittedError(
                    "Graph refused to create meetings for the organiser (403): no application access policy.",
                    app_id=self._app_id,
                ) from exc
            retryable = status in (408, 429) or status >= 500
            raise UpstreamError(f"Graph answered {status} to a meeting call.", retryable=retryable) from exc
        if isinstance(exc, ClientAuthenticationError):
            raise UpstreamError("Entra ID refused the app's credentials for Graph.", retryable=False) from exc
        if isinstance(exc, httpx.HTTPError):
            raise UpstreamError("Graph unreachable.", retryable=True) from exc
        raise exc

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(CALL_TIMEOUT_SECONDS)
        except TimeoutError as exc:
            future.cancel()
            raise UpstreamError("Graph did not answer in time.", retryable=True) from exc


def _graph_client(connection: GraphConnection, verify: str | bool) -> GraphServiceClient:
    """A GraphServiceClient at `connection.base_url` whose httpx client trusts `verify` and never retries.

    Retries are ours (`_call`): the SDK's default handler waits up to minutes on Retry-After while a
    person looks at a spinner.
    """
    import httpx
    from kiota_http.middleware.options import RetryHandlerOption
    from msgraph import GraphRequestAdapter, GraphServiceClient
    from msgraph_core import GraphClientFactory
    from msgraph_core.authentication import AzureIdentityAuthenticationProvider

    http_client = httpx.AsyncClient(
        verify=verify,
        timeout=httpx.Timeout(REQUEST_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS),
    )
    options = {RetryHandlerOption.get_key(): RetryHandlerOption(max_retries=0, should_retry=False)}
    http_client = GraphClientFactory.create_with_default_middleware(client=http_client, options=options)
    host = urlsplit(connection.base_url).hostname or ""
    auth = AzureIdentityAuthenticationProvider(_credential(connection, verify), allowed_hosts=[host])
    adapter = GraphRequestAdapter(auth, client=http_client)
    adapter.base_url = connection.base_url  # not httpx's base_url: it gains a trailing slash
    return GraphServiceClient(request_adapter=adapter)


def _beta_url(base_url: str) -> str:
    """`https://graph.microsoft.com/v1.0` -> `https://graph.microsoft.com/beta` (the version is the last segment)."""
    return base_url.rstrip("/").rsplit("/", 1)[0] + "/beta"


def _credential(connection: GraphConnection, verify: str | bool) -> Any:
    """Client secret when configured, else the app's managed identity (user-assigned with GRAPH_CLIENT_ID)."""
    if connection.uses_identity:
        return managed_identity(connection.client_id)
    from azure.identity import ClientSecretCredential

    return ClientSecretCredential(
        connection.tenant_id,
        connection.client_id,
        connection.client_secret,
        authority=connection.authority_host,
        # Instance discovery asks login.microsoftonline.com about the authority: only for the public cloud.
        disable_instance_discovery=connection.authority_host != DEFAULT_AUTHORITY_HOST,
        connection_verify=verify,
    )
