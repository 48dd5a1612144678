"""The Graph subscriptions we hold for visit meetings' call events, per geography.

Table `graphsubscriptions` in the organisation's geography account (the row names a visit):

    PartitionKey  "active"          (one partition: the renewal timer reads it with a filter on ExpiresAt;
                                     rows are removed once their visit is over, so it stays small)
    RowKey        Graph's subscription id
    EndpointId, VisitId, ScheduledStart (UTC), WatchUntil (UTC: renew until then), JoinUrl (the meeting's),
    ClientStateHash (SHA-256 of the clientState; the clientState itself is never stored), ExpiresAt (UTC)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from shared.adapters.storage import StorageAccount
from shared.errors import NotFoundError

GRAPH_SUBSCRIPTIONS_TABLE = "graphsubscriptions"
ACTIVE = "active"


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
            }
        )

    def get(self, subscription_id: str) -> SubscriptionRow:
        """One point read. Raises NotFoundError (not ours, or no longer watched), UpstreamError."""
        if not subscription_id or set(subscription_id) & set("/\\#?"):
            raise NotFoundError("No such subscription.")
        return _row(self._table.get(ACTIVE, subscription_id).entity)

    def list_expiring(self, before: datetime) -> Iterator[SubscriptionRow]:
        """Rows whose subscription expires before `before` (one partition, filtered). Raises UpstreamError."""
        for stored in self._table.query(
            "PartitionKey eq @pk and ExpiresAt lt @before", {"pk": ACTIVE, "before": before}
        ):
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
    )
