"""The Graph subscriptions we hold for visit meetings' call events, per geography.

Table `graphsubscriptions` in the organisation's geography account (the row names a visit):

    PartitionKey  "active"          (one partition: the renewal timer reads it with a filter on DueAt;
                                     a row goes with the DELETE at Graph once its visit is over, so it
                                     stays small: its lifetime is the visit's plus WATCH_AFTER_END)
    RowKey        Graph's subscription id, or `pending-<random>` for a subscribe that failed (retried)
    EndpointId, VisitId, ScheduledStart (UTC), WatchUntil (UTC: watched until then), JoinUrl (the meeting's),
    ClientStateHash (SHA-256 of the clientState; the clientState itself is never stored), ExpiresAt (UTC),
    Action (work a lifecycle notification or a failure left for the timer: subscribe, reauthorize,
    recreate; empty: none), DueAt (UTC: when the timer next looks at the row)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.adapters.storage import StorageAccount
from shared.errors import NotFoundError

GRAPH_SUBSCRIPTIONS_TABLE = "graphsubscriptions"
ACTIVE = "active"
PENDING_PREFIX = "pending-"
RENEW_AHEAD = timedelta(hours=2)
"""A subscription is renewed this long before Graph would let it expire."""
ALWAYS_DUE = datetime(2000, 1, 1, tzinfo=UTC)

SUBSCRIBE, REAUTHORIZE, RECREATE = "subscribe", "reauthorize", "recreate"


@dataclass(frozen=True)
class WatchedMeeting:
    """One visit meeting whose call events we follow."""

    endpoint_id: str
    visit_id: str
    scheduled_start: datetime
    watch_until: datetime
    join_url: str


@dataclass(frozen=True)
class SubscriptionRow:
    subscription_id: str
    meeting: WatchedMeeting
    client_state_hash: str
    expires_at: datetime
    action: str = ""

    @classmethod
    def pending(cls, meeting: WatchedMeeting) -> SubscriptionRow:
        """The row of a subscribe that failed: the timer retries it (no clientState: nothing matches it)."""
        return cls(f"{PENDING_PREFIX}{uuid.uuid4().hex}", meeting, "", ALWAYS_DUE, SUBSCRIBE)

    @property
    def is_pending(self) -> bool:
        return self.subscription_id.startswith(PENDING_PREFIX)

    @property
    def due_at(self) -> datetime:
        """Work waits: now. Else when renewal is due, or the visit's watch is over (then DELETE)."""
        if self.action:
            return ALWAYS_DUE
        return min(self.expires_at - RENEW_AHEAD, self.meeting.watch_until)


class SubscriptionStore:
    def __init__(self, account: StorageAccount) -> None:
        self._table = account.table(GRAPH_SUBSCRIPTIONS_TABLE)

    def upsert(self, row: SubscriptionRow) -> None:
        """Raises UpstreamError."""
        meeting = row.meeting
        self._table.upsert(
            {
                "PartitionKey": ACTIVE,
                "RowKey": row.subscription_id,
                "EndpointId": meeting.endpoint_id,
                "VisitId": meeting.visit_id,
                "ScheduledStart": meeting.scheduled_start,
                "WatchUntil": meeting.watch_until,
                "JoinUrl": meeting.join_url,
                "ClientStateHash": row.client_state_hash,
                "ExpiresAt": row.expires_at,
                "Action": row.action,
                "DueAt": row.due_at,
            }
        )

    def get(self, subscription_id: str) -> SubscriptionRow:
        """One point read. Raises NotFoundError (not ours, or no longer watched), UpstreamError."""
        if not subscription_id or set(subscription_id) & set("/\\#?"):
            raise NotFoundError("No such subscription.")
        return _row(self._table.get(ACTIVE, subscription_id).entity)

    def list_due(self, now: datetime) -> Iterator[SubscriptionRow]:
        """Rows the timer has work for at `now` (one partition, filtered on DueAt). Raises UpstreamError."""
        for stored in self._table.query("PartitionKey eq @pk and DueAt le @now", {"pk": ACTIVE, "now": now}):
            yield _row(stored.entity)

    def delete(self, subscription_id: str) -> None:
        """Idempotent. Raises UpstreamError."""
        self._table.delete(ACTIVE, subscription_id)


def _row(entity: dict) -> SubscriptionRow:
    return SubscriptionRow(
        subscription_id=entity["RowKey"],
        meeting=WatchedMeeting(
            endpoint_id=entity["EndpointId"],
            visit_id=entity["VisitId"],
            scheduled_start=entity["ScheduledStart"],
            watch_until=entity["WatchUntil"],
            join_url=entity["JoinUrl"],
        ),
        client_state_hash=entity["ClientStateHash"],
        expires_at=entity["ExpiresAt"],
        action=entity.get("Action") or "",
    )
