"""One meeting per visit: read the geography's meeting map, else create the meeting and record it.

The map is the table `meetings` in the organisation's geography account:
PartitionKey = endpoint id, RowKey = the visit's externalId (hex SHA-256 of endpoint id and visit id),
fields MeetingId, JoinUrl, CreatedAt (UTC). A launch of a visit that already has its meeting costs one
point read. Two launches racing to create it end with one meeting: the provider's createOrGet is
idempotent on the externalId, and the map write is create-or-read-back (the loser reads the winner).
The winner then subscribes to the meeting's call events (`shared/services/call_events.py`). A meeting is
created with the options of its endpoint (`MeetingOptions`: read from the directory on creation only).
A map row goes `MEETING_MAP_AFTER_END` after the visit (a pointer in `expiries`, written first, tells
the timer when); a later launch of the same visit gets the same meeting again from createOrGet.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Protocol

from shared.adapters.expiring import Expiries
from shared.adapters.graph_subscriptions import WatchedMeeting
from shared.adapters.storage import Storage, Table
from shared.domain.meetings import MEETING_SUBJECT, Meeting, MeetingOptions, VisitKey
from shared.errors import ConflictError, ConnectorError, InvalidRequestError, MeetingNotOpenedError, NotFoundError
from shared.services.call_events import WATCH_AFTER_END, CallEventSubscriber, watch_or_retry_later
from shared.services.ehr_write_back import EndpointDirectory

logger = logging.getLogger(__name__)

MEETINGS_TABLE = "meetings"
MEETING_MAP_AFTER_END = timedelta(days=1)
"""An overrunning visit, or one relaunched the same day, still finds its map."""

_KEY_FORBIDDEN = set("/\\#?") | {chr(c) for c in range(32)} | {chr(127)}
"""Characters Azure Tables refuses in PartitionKey / RowKey."""


class MeetingService(CallEventSubscriber, Protocol):
    """Creates or returns the one online meeting of a visit (Teams through Graph, or the sandbox), and
    subscribes to its call events."""

    def create_or_get(
        self,
        key: VisitKey,
        organizer_user_id: str,
        subject: str,
        start: datetime,
        end: datetime,
        options: MeetingOptions,
    ) -> Meeting: ...


def get_or_create_meeting(
    storage: Storage,
    meetings: MeetingService,
    directory: EndpointDirectory,
    *,
    endpoint_id: str,
    geo: str,
    visit_id: str,
    start: datetime,
    end: datetime,
    organizer_user_id: str | None,
) -> Meeting:
    """The visit's meeting, from the map of `geo`, else created with `organizer_user_id` and recorded.

    Raises InvalidRequestError for an unusable endpoint id or times, MeetingNotOpenedError when the
    meeting does not exist and `organizer_user_id` is None, NotFoundError (the endpoint is gone), and what
    the meeting service raises (UpstreamError, MeetingsNotPermittedError).
    """
    if not endpoint_id or _KEY_FORBIDDEN & set(endpoint_id):
        raise InvalidRequestError("The endpoint id cannot be used as a storage key.")
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise InvalidRequestError("A visit needs timezone-aware start and end times, end after start.")
    key = VisitKey(endpoint_id, visit_id)
    table = storage.for_geo(geo).table(MEETINGS_TABLE)
    try:
        return _read(table, key)
    except NotFoundError:
        pass
    if organizer_user_id is None:
        raise MeetingNotOpenedError("The visit's meeting has not been opened yet.")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    options = MeetingOptions(announce_entry_exit=directory.get_endpoint(endpoint_id).announce_entry_exit)
    meeting = meetings.create_or_get(key, organizer_user_id, MEETING_SUBJECT, start, end, options)
    Expiries(storage.for_geo(geo)).add(MEETINGS_TABLE, key.endpoint_id, key.external_id, end + MEETING_MAP_AFTER_END)
    entity = {
        "PartitionKey": key.endpoint_id,
        "RowKey": key.external_id,
        "MeetingId": meeting.id,
        "JoinUrl": meeting.join_url,
        "CreatedAt": datetime.now(UTC),
    }
    try:
        table.create(entity)
    except ConflictError:
        # A concurrent launch recorded the visit's meeting first: its record is the answer.
        logger.info("Meeting of visit %s recorded concurrently; using the recorded one", key.external_id[:12])
        return _read(table, key)
    logger.info("Meeting of visit %s recorded", key.external_id[:12])
    watched = WatchedMeeting(endpoint_id, visit_id, start, end + WATCH_AFTER_END, meeting.join_url)
    try:
        watch_or_retry_later(storage, geo, meetings, watched, entity["CreatedAt"])
    except ConnectorError as error:
        # Call events feed reports and the EHR; the person waiting for the meeting matters more.
        logger.warning("Call events of visit %s not followed: %s", key.external_id[:12], error.code)
    return meeting


def _read(table: Table, key: VisitKey) -> Meeting:
    entity = table.get(key.endpoint_id, key.external_id).entity
    return Meeting(id=entity["MeetingId"], join_url=entity["JoinUrl"])
