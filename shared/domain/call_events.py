"""Teams meeting call events from Microsoft Graph change notifications, without I/O: parsing, clientState,
and how one event moves a visit-log row (never backwards).

We subscribe to `communications/onlineMeetings(joinWebUrl='...')/meetingCallEvents` (Graph beta). Each
notification names its subscription and carries the clientState we chose; its `resourceData` holds the
call event: `eventType` `Microsoft.Communication.CallStarted`, `...CallEnded` or `...CallRosterUpdate`
(with `activeParticipants@joined` / `activeParticipants@exited`) and `eventDateTime`. Lifecycle
notifications (`lifecycleEvent`: reauthorizationRequired, subscriptionRemoved, missed) arrive on the same
URL. Participants with a Microsoft 365 `user` identity are taken to be staff (the provider); anyone
else (anonymous guest, ACS user, phone) is the patient side. Display names are never read or kept.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from shared.domain.ehr_events import EhrEventKind
from shared.errors import InvalidRequestError

CALL_STARTED = "Microsoft.Communication.CallStarted"
CALL_ENDED = "Microsoft.Communication.CallEnded"
ROSTER_UPDATE = "Microsoft.Communication.CallRosterUpdate"
RENEW_LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved")
"""Lifecycle events after which the subscription is renewed (or recreated) at the next timer tick."""

MAX_NOTIFICATIONS = 1000


class CallEventKind(StrEnum):
    STARTED = "started"
    PROVIDER_CONNECTED = "provider_connected"
    PATIENT_CONNECTED = "patient_connected"
    DISCONNECTED = "disconnected"
    ENDED = "ended"

    @property
    def ehr_kind(self) -> EhrEventKind | None:
        """The visit event the EHR hears of (none for the call's start: the first connection says it)."""
        return None if self is CallEventKind.STARTED else EhrEventKind(self.value)


@dataclass(frozen=True)
class CallEvent:
    kind: CallEventKind
    at: datetime


@dataclass(frozen=True)
class Notification:
    subscription_id: str
    client_state: str
    events: tuple[CallEvent, ...] = ()
    lifecycle_event: str | None = None


def new_client_state(geo: str) -> str:
    """A fresh clientState for one subscription: `<geo>.<secret>`, so a notification names the geography
    whose subscription table holds its hash (Graph allows 128 characters)."""
    return f"{geo}.{secrets.token_urlsafe(32)}"


def geo_of_client_state(client_state: str) -> str:
    return client_state.split(".", 1)[0]


def client_state_hash(client_state: str) -> str:
    return hashlib.sha256(client_state.encode()).hexdigest()


def client_state_matches(client_state: str, stored_hash: str) -> bool:
    return hmac.compare_digest(client_state_hash(client_state), stored_hash)


def parse_notifications(document: Any) -> tuple[Notification, ...]:
    """Graph's `{"value": [...]}` body. Raises InvalidRequestError for anything else (nothing is applied)."""
    if not isinstance(document, dict) or not isinstance(document.get("value"), list):
        raise InvalidRequestError("A change notification body is an object with a value array.")
    items = document["value"]
    if len(items) > MAX_NOTIFICATIONS:
        raise InvalidRequestError("Too many notifications in one delivery.")
    return tuple(_notification(item) for item in items)


def _notification(item: Any) -> Notification:
    if not isinstance(item, dict):
        raise InvalidRequestError("A change notification must be an object.")
    subscription_id, client_state = item.get("subscriptionId"), item.get("clientState")
    if not isinstance(subscription_id, str) or not subscription_id or not isinstance(client_state, str):
        raise InvalidRequestError("A change notification needs subscriptionId and clientState.")
    lifecycle = item.get("lifecycleEvent")
    if lifecycle is not None:
        return Notification(subscription_id, client_state, lifecycle_event=str(lifecycle))
    data = item.get("resourceData")
    if not isinstance(data, dict):
        raise InvalidRequestError("A call event notification needs resourceData.")
    return Notification(subscription_id, client_state, _events(data))


def _events(data: Mapping[str, Any]) -> tuple[CallEvent, ...]:
    event_type = data.get("eventType")
    try:
        at = datetime.fromisoformat(str(data.get("eventDateTime")).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequestError("A call event needs eventDateTime (ISO 8601).") from None
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    if event_type == CALL_STARTED:
        return (CallEvent(CallEventKind.STARTED, at),)
    if event_type == CALL_ENDED:
        return (CallEvent(CallEventKind.ENDED, at),)
    if event_type == ROSTER_UPDATE:
        joined = [_role(p) for p in _participants(data, "activeParticipants@joined")]
        exited = _participants(data, "activeParticipants@exited")
        events = [CallEvent(kind, at) for kind in dict.fromkeys(joined)]
        return (*events, *([CallEvent(CallEventKind.DISCONNECTED, at)] if exited else []))
    return ()  # an event type we do not use


def _participants(data: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    value = data.get(name) or []
    if not isinstance(value, list) or not all(isinstance(p, dict) for p in value):
        raise InvalidRequestError(f"{name} must be an array of participants.")
    return value


def _role(participant: Mapping[str, Any]) -> CallEventKind:
    identity = participant.get("Identity") or participant.get("identity") or {}
    user = identity.get("User") or identity.get("user") if isinstance(identity, dict) else None
    if isinstance(user, dict) and (user.get("Id") or user.get("id")):
        return CallEventKind.PROVIDER_CONNECTED
    return CallEventKind.PATIENT_CONNECTED


def apply_call_event(row: dict[str, Any], event: CallEvent) -> None:
    """Move a visit-log row by one call event. Earliest starts and latest ends win, so duplicates and any
    order of arrival give the same row; derived figures are recomputed from the kept times. The first
    patient join is the earlier of the patient's launch (set by the launch) and the roster's admission."""
    if event.kind is not CallEventKind.DISCONNECTED:
        _keep(row, "CallStartedAt", event.at, min)
    if event.kind is CallEventKind.PATIENT_CONNECTED:
        _keep(row, "FirstPatientConnectedAt", event.at, min)
        _keep(row, "FirstPatientJoinAt", event.at, min)
    if event.kind is CallEventKind.ENDED:
        _keep(row, "EndedAt", event.at, max)
    started, ended = row.get("CallStartedAt"), row.get("EndedAt")
    if started is not None and ended is not None and ended >= started:
        row["DurationSeconds"] = int((ended - started).total_seconds())
    arrived, admitted = row.get("FirstPatientJoinAt"), row.get("FirstPatientConnectedAt")
    if arrived is not None and admitted is not None and arrived < admitted:
        # Known only when the patient's launch was seen before the roster admitted them.
        row["LobbyWaitSeconds"] = int((admitted - arrived).total_seconds())


def _keep(row: dict[str, Any], name: str, at: datetime, pick: Any) -> None:
    current = row.get(name)
    row[name] = at if current is None else pick(current, at)
