"""Teams call events of visit meetings: subscribe when a meeting is created, receive Graph's change
notifications, keep the subscriptions alive.

A notification is applied only when its clientState matches the one its subscription was created with
(we keep the SHA-256, per subscription): a forged or stale one is refused before anything changes. Each
call event moves the visit log (`VisitLog.record_call_event`, never backwards) and, for endpoints that
enable write-back, is queued for the EHR (`queue_ehr_event`); the EHR itself is never called here, so the
webhook answers Graph at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from shared.adapters.graph_subscriptions import SubscriptionRow, SubscriptionStore, WatchedMeeting
from shared.adapters.storage import Storage
from shared.adapters.visit_log import VisitLog
from shared.domain.appointment import appointment_key
from shared.domain.call_events import (
    RENEW_LIFECYCLE_EVENTS,
    CallEvent,
    Notification,
    client_state_hash,
    client_state_matches,
    geo_of_client_state,
    new_client_state,
    parse_notifications,
)
from shared.domain.ehr_events import EhrEvent
from shared.domain.meetings import CallSubscription
from shared.errors import ConnectorError, NotAuthorisedError, NotFoundError, SettingsError
from shared.log_safety import loggable
from shared.services.ehr_write_back import EndpointDirectory, queue_ehr_event

logger = logging.getLogger(__name__)

SUBSCRIPTION_LIFETIME = timedelta(hours=24)
"""Well inside Graph's three-day maximum for meeting call events; renewed before it runs out."""
RENEW_AHEAD = timedelta(hours=2)
WATCH_AFTER_END = timedelta(hours=6)
"""Visits overrun; after the scheduled end plus this, the subscription is left to expire."""


class CallEventSubscriber(Protocol):
    """The part of the MeetingService port that subscribes to a meeting's call events."""

    def subscribe_call_events(self, join_url: str, client_state: str, expires_at: datetime) -> CallSubscription:
        """Raises UpstreamError."""
        ...

    def renew_call_events(self, subscription_id: str, expires_at: datetime) -> datetime:
        """The new expiry. Raises NotFoundError (the subscription expired or was removed), UpstreamError."""
        ...


def watch_call_events(
    storage: Storage, geo: str, subscriber: CallEventSubscriber, meeting: WatchedMeeting, now: datetime
) -> SubscriptionRow:
    """Subscribe to the meeting's call events and record the subscription in `geo`. Raises UpstreamError."""
    client_state = new_client_state(geo)
    expires_at = min(now + SUBSCRIPTION_LIFETIME, max(meeting.watch_until, now + RENEW_AHEAD))
    subscription = subscriber.subscribe_call_events(meeting.join_url, client_state, expires_at)
    row = SubscriptionRow(subscription.id, meeting, client_state_hash(client_state), subscription.expires_at)
    SubscriptionStore(storage.for_geo(geo)).upsert(row)
    logger.info("Call events of endpoint %s's meeting followed (subscription %s)", meeting.endpoint_id, subscription.id)
    return row


@dataclass(frozen=True)
class NotificationContext:
    storage: Storage
    directory: EndpointDirectory
    now: datetime


def receive_notifications(document: object, context: NotificationContext) -> int:
    """Apply a delivery of Graph change notifications; returns how many call events it held.

    Every notification's clientState is checked first: one that does not match its subscription (or names a
    subscription we do not hold) refuses the whole delivery with NotAuthorisedError and changes nothing.
    Raises InvalidRequestError (malformed), NotAuthorisedError, UpstreamError (Graph redelivers).
    """
    notifications = parse_notifications(document)
    checked = [(notification, _subscription_of(notification, context.storage)) for notification in notifications]
    applied = 0
    for notification, (geo, row) in checked:
        if notification.lifecycle_event is not None:
            _on_lifecycle(context, geo, row, notification.lifecycle_event)
            continue
        for event in notification.events:
            _apply(context, geo, row, event)
            applied += 1
    return applied


def _subscription_of(notification: Notification, storage: Storage) -> tuple[str, SubscriptionRow]:
    refused = NotAuthorisedError("A change notification's clientState does not match its subscription.")
    geo = geo_of_client_state(notification.client_state)
    try:
        row = SubscriptionStore(storage.for_geo(geo)).get(notification.subscription_id)
    except (SettingsError, NotFoundError):
        logger.warning("Notification for unknown subscription %s refused", loggable(notification.subscription_id))
        raise refused from None
    if not client_state_matches(notification.client_state, row.client_state_hash):
        logger.warning("Notification with a wrong clientState for subscription %s refused", row.subscription_id)
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
    """Graph asks for reauthorisation or says it removed the subscription: mark it expired, so the next
    timer tick subscribes afresh."""
    logger.info("Lifecycle event %s for subscription %s", lifecycle_event, row.subscription_id)
    if lifecycle_event in RENEW_LIFECYCLE_EVENTS:
        SubscriptionStore(context.storage.for_geo(geo)).upsert(replace(row, expires_at=context.now))


def renew_subscriptions(
    storage: Storage, subscriber: CallEventSubscriber, geos: tuple[str, ...], now: datetime
) -> dict[str, int]:
    """Renew subscriptions that expire within RENEW_AHEAD, recreate expired or removed ones, and drop those
    whose visit is over. One failure is logged and the rest carry on. Returns counts by outcome."""
    counts = {"renewed": 0, "recreated": 0, "dropped": 0, "failed": 0}
    for geo in geos:
        store = SubscriptionStore(storage.for_geo(geo))
        for row in list(store.list_expiring(now + RENEW_AHEAD)):
            try:
                counts[_renew(storage, geo, subscriber, row, now)] += 1
            except ConnectorError as error:
                counts["failed"] += 1
                logger.warning("Subscription %s not renewed: %s", row.subscription_id, error.code)
    return counts


def _renew(storage: Storage, geo: str, subscriber: CallEventSubscriber, row: SubscriptionRow, now: datetime) -> str:
    store = SubscriptionStore(storage.for_geo(geo))
    if row.meeting.watch_until <= now:
        store.delete(row.subscription_id)
        return "dropped"
    wanted = min(now + SUBSCRIPTION_LIFETIME, max(row.meeting.watch_until, now + RENEW_AHEAD))
    if row.expires_at > now:
        try:
            store.upsert(replace(row, expires_at=subscriber.renew_call_events(row.subscription_id, wanted)))
            return "renewed"
        except NotFoundError:
            pass  # expired or removed on Graph's side: subscribe afresh
    watch_call_events(storage, geo, subscriber, row.meeting, now)
    store.delete(row.subscription_id)
    return "recreated"
