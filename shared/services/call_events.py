"""Teams call events of visit meetings: subscribe when a meeting is created, receive Graph's rich change
notifications, keep the subscriptions alive and delete them when the visit is over.

A delivery is answered 202 whatever its items hold (Graph's guidance: accept, then ignore what does not
validate); each item is applied on its own. A call event counts only when its clientState matches the one
its subscription was created with (we keep the SHA-256, per subscription), a validation token issued by
Graph for our app covers its tenant, and its encryptedContent decrypts with our key under a matching
dataSignature; anything else is dropped and counted, and the rest of the delivery still applies. Each call
event moves the visit log (`VisitLog.record_call_event`, never backwards) and, for endpoints that enable
write-back, is queued for the EHR (`queue_ehr_event`). Neither the EHR nor Graph is called here, so the
webhook answers at once: lifecycle notifications leave their work (reauthorize, recreate) on the
subscription's row for the timer, which also retries a subscribe that failed at meeting creation and
DELETEs subscriptions at Graph once their visit is over.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from shared.adapters.graph_subscriptions import (
    REAUTHORIZE,
    RECREATE,
    RENEW_AHEAD,
    SUBSCRIBE,
    SubscriptionRow,
    SubscriptionStore,
    WatchedMeeting,
)
from shared.adapters.storage import Storage
from shared.adapters.visit_log import VisitLog
from shared.domain.appointment import appointment_key
from shared.domain.call_events import (
    MISSED,
    REAUTHORIZATION_REQUIRED,
    SUBSCRIPTION_REMOVED,
    CallEvent,
    Notification,
    call_events_of,
    client_state_hash,
    client_state_matches,
    geo_of_client_state,
    new_client_state,
    parse_delivery,
    parse_notification,
)
from shared.domain.ehr_events import EhrEvent
from shared.domain.meetings import CallSubscription
from shared.errors import ConnectorError, InvalidRequestError, NotAuthorisedError, NotFoundError, SettingsError
from shared.log_safety import loggable
from shared.services.ehr_write_back import EndpointDirectory, queue_ehr_event

logger = logging.getLogger(__name__)

SUBSCRIPTION_LIFETIME = timedelta(hours=24)
"""Well inside Graph's three-day maximum for meeting call events; renewed before it runs out."""
WATCH_AFTER_END = timedelta(hours=6)
"""Visits overrun; after the scheduled end plus this, the subscription is deleted at Graph."""
LIFECYCLE_ACTIONS = {REAUTHORIZATION_REQUIRED: REAUTHORIZE, SUBSCRIPTION_REMOVED: RECREATE}


class CallEventSubscriber(Protocol):
    """The part of the MeetingService port that manages subscriptions to a meeting's call events."""

    def subscribe_call_events(self, join_url: str, client_state: str, expires_at: datetime) -> CallSubscription:
        """Raises UpstreamError, SettingsError (no encryption certificate configured)."""
        ...

    def renew_call_events(self, subscription_id: str, expires_at: datetime) -> datetime:
        """The new expiry (renewing also reauthorizes). Raises NotFoundError (expired or removed), UpstreamError."""
        ...

    def reauthorize_call_events(self, subscription_id: str) -> None:
        """Raises NotFoundError (expired or removed), UpstreamError."""
        ...

    def delete_call_events(self, subscription_id: str) -> None:
        """Idempotent (gone already is fine). Raises UpstreamError."""
        ...


class NotificationReader(Protocol):
    """Authenticates and decrypts rich notifications (`shared/adapters/graph_notifications.py`)."""

    def trusted_tenants(self, tokens: Iterable[object]) -> frozenset[str]:
        """Tenants a valid validation token covers. Raises UpstreamError (keys unreachable: retry)."""
        ...

    def decrypt(self, content: object) -> dict[str, Any]:
        """Raises InvalidRequestError, NotAuthorisedError (forged or tampered)."""
        ...


def watch_expiry(meeting: WatchedMeeting, now: datetime) -> datetime:
    """A subscription's expiry: a day at most, and no later than needed to see the visit out."""
    return min(now + SUBSCRIPTION_LIFETIME, meeting.watch_until + RENEW_AHEAD)


def watch_call_events(
    storage: Storage, geo: str, subscriber: CallEventSubscriber, meeting: WatchedMeeting, now: datetime
) -> SubscriptionRow:
    """Subscribe to the meeting's call events and record the subscription in `geo`.
    Raises UpstreamError, SettingsError."""
    client_state = new_client_state(geo)
    subscription = subscriber.subscribe_call_events(meeting.join_url, client_state, watch_expiry(meeting, now))
    row = SubscriptionRow(subscription.id, meeting, client_state_hash(client_state), subscription.expires_at)
    SubscriptionStore(storage.for_geo(geo)).upsert(row)
    logger.info("Call events of endpoint %s's meeting followed (subscription %s)", meeting.endpoint_id, subscription.id)
    return row


def watch_or_retry_later(
    storage: Storage, geo: str, subscriber: CallEventSubscriber, meeting: WatchedMeeting, now: datetime
) -> None:
    """`watch_call_events`; a failure is stored as a pending row that the timer retries. Raises UpstreamError
    (storage itself failed)."""
    try:
        watch_call_events(storage, geo, subscriber, meeting, now)
    except ConnectorError as error:
        logger.warning(
            "Call events of endpoint %s's meeting not followed yet (%s); retried by the timer",
            meeting.endpoint_id,
            error.code,
        )
        SubscriptionStore(storage.for_geo(geo)).upsert(SubscriptionRow.pending(meeting))


@dataclass(frozen=True)
class NotificationContext:
    storage: Storage
    directory: EndpointDirectory
    reader: NotificationReader | None
    """None: this deployment has no Graph (sandbox meetings), so no rich notification can be genuine."""
    now: datetime


@dataclass
class DeliveryOutcome:
    """What one delivery did: call events applied, lifecycle notifications taken, items dropped by reason."""

    applied: int = 0
    lifecycle: int = 0
    dropped: Counter[str] = field(default_factory=Counter)


def receive_notifications(document: object, context: NotificationContext) -> DeliveryOutcome:
    """Apply a delivery of Graph change notifications, each item on its own.

    Raises InvalidRequestError (not a delivery at all), UpstreamError (storage or Graph's keys unreachable:
    Graph redelivers, and what was applied already changes nothing the second time).
    """
    delivery = parse_delivery(document)
    outcome = DeliveryOutcome()
    tenants: frozenset[str] | None = None  # read from the validation tokens once, when an item needs them
    for item in delivery.items:
        try:
            notification = parse_notification(item)
            geo, row = _subscription_of(notification, context.storage)
            if notification.lifecycle_event is not None:
                _on_lifecycle(context, geo, row, notification.lifecycle_event)
                outcome.lifecycle += 1
                continue
            if tenants is None:
                tenants = _trusted_tenants(context.reader, delivery.validation_tokens)
            for event in _call_events(context.reader, notification, tenants):
                _apply(context, geo, row, event)
                outcome.applied += 1
        except (InvalidRequestError, NotAuthorisedError) as error:
            outcome.dropped[error.code] += 1
            logger.warning("Graph notification dropped: %s", error.message)
    return outcome


def _trusted_tenants(reader: NotificationReader | None, tokens: tuple[object, ...]) -> frozenset[str]:
    return frozenset() if reader is None else reader.trusted_tenants(tokens)


def _call_events(
    reader: NotificationReader | None, notification: Notification, tenants: frozenset[str]
) -> tuple[CallEvent, ...]:
    """The call events of a rich item that Graph sent (a token covers its tenant) and that decrypts.
    Raises NotAuthorisedError, InvalidRequestError."""
    if reader is None or notification.tenant_id not in tenants:
        raise NotAuthorisedError("No valid validation token covers the notification's tenant.")
    return call_events_of(reader.decrypt(notification.encrypted_content))


def _subscription_of(notification: Notification, storage: Storage) -> tuple[str, SubscriptionRow]:
    """Raises NotAuthorisedError (not one of ours, or a clientState that does not match), UpstreamError."""
    refused = NotAuthorisedError("A change notification's clientState does not match a subscription of ours.")
    geo = geo_of_client_state(notification.client_state)
    try:
        row = SubscriptionStore(storage.for_geo(geo)).get(notification.subscription_id)
    except (SettingsError, NotFoundError):
        logger.warning("Notification for unknown subscription %s refused", loggable(notification.subscription_id))
        raise refused from None
    if row.is_pending or not client_state_matches(notification.client_state, row.client_state_hash):
        raise refused
    return geo, row


def _apply(context: NotificationContext, geo: str, row: SubscriptionRow, event: CallEvent) -> None:
    meeting = row.meeting
    VisitLog(context.storage).record_call_event(
        geo,
        endpoint_id=meeting.endpoint_id,
        visit_id=meeting.visit_id,
        scheduled_start=meeting.scheduled_start,
        event=event,
    )
    kind = event.kind.ehr_kind
    if kind is not None:
        ehr_event = EhrEvent(geo, meeting.endpoint_id, appointment_key(meeting.visit_id), kind, event.at)
        queue_ehr_event(context.directory, context.storage.for_geo(geo), ehr_event)
    logger.info("Call event %s recorded for endpoint %s", event.kind, meeting.endpoint_id)


def _on_lifecycle(context: NotificationContext, geo: str, row: SubscriptionRow, lifecycle_event: str) -> None:
    """Reauthorize or recreate: left on the row for the timer (Graph wants a fast answer). Missed: the
    visit's figures may lack events, which its visit-log row records."""
    logger.info("Lifecycle event %s for subscription %s", lifecycle_event, row.subscription_id)
    if lifecycle_event == MISSED:
        meeting = row.meeting
        VisitLog(context.storage).record_missed_call_events(
            geo, endpoint_id=meeting.endpoint_id, visit_id=meeting.visit_id, scheduled_start=meeting.scheduled_start
        )
        return
    action = LIFECYCLE_ACTIONS[lifecycle_event]
    if row.action != RECREATE:  # a removed subscription cannot be reauthorized any more
        SubscriptionStore(context.storage.for_geo(geo)).upsert(replace(row, action=action))


def renew_subscriptions(
    storage: Storage, subscriber: CallEventSubscriber, geos: tuple[str, ...], now: datetime
) -> Counter[str]:
    """Do what each due subscription needs: renew before expiry, reauthorize, recreate a removed or expired
    one, retry a failed subscribe, DELETE once the visit is over. One failure is logged and the row stays
    due, so the next tick retries it; the rest carry on. Returns counts by outcome."""
    counts: Counter[str] = Counter()
    for geo in geos:
        store = SubscriptionStore(storage.for_geo(geo))
        for row in list(store.list_due(now)):
            try:
                counts[_maintain(storage, geo, subscriber, row, now)] += 1
            except ConnectorError as error:
                counts["failed"] += 1
                logger.warning("Subscription %s not maintained: %s", row.subscription_id, error.code)
    return counts


def _maintain(storage: Storage, geo: str, subscriber: CallEventSubscriber, row: SubscriptionRow, now: datetime) -> str:
    store = SubscriptionStore(storage.for_geo(geo))
    if row.meeting.watch_until <= now:
        if not row.is_pending and row.action != RECREATE:
            subscriber.delete_call_events(row.subscription_id)
        store.delete(row.subscription_id)
        return "deleted"
    if row.action in (SUBSCRIBE, RECREATE) or row.expires_at <= now:
        return _recreate(storage, geo, subscriber, row, now)
    try:
        if row.action == REAUTHORIZE and row.expires_at - now > RENEW_AHEAD:
            subscriber.reauthorize_call_events(row.subscription_id)
            store.upsert(replace(row, action=""))
            return "reauthorized"
        expires_at = subscriber.renew_call_events(row.subscription_id, watch_expiry(row.meeting, now))
    except NotFoundError:
        return _recreate(storage, geo, subscriber, row, now)  # expired or removed on Graph's side
    store.upsert(replace(row, expires_at=expires_at, action=""))
    return "renewed"


def _recreate(storage: Storage, geo: str, subscriber: CallEventSubscriber, row: SubscriptionRow, now: datetime) -> str:
    watch_call_events(storage, geo, subscriber, row.meeting, now)
    SubscriptionStore(storage.for_geo(geo)).delete(row.subscription_id)
    return "subscribed" if row.is_pending else "recreated"
