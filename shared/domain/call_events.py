"""Teams meeting call events from Microsoft Graph change notifications, without I/O: the delivery's
envelope, each item, the decrypted call event, clientState, and how one event moves a visit-log row
(never backwards).

We subscribe to `communications/onlineMeetings(joinWebUrl='...')/meetingCallEvents` (Graph beta) with
rich notifications (microsoftgraph/microsoft-graph-docs-contrib, concepts/changenotifications-for-
onlinemeeting.md). A delivery is `{"value": [items], "validationTokens": [...]}`; an item names its
subscription, the clientState we chose and its `tenantId`, and carries either `encryptedContent` (decrypted
by the adapter) or a `lifecycleEvent` (reauthorizationRequired, subscriptionRemoved, missed:
concepts/change-notifications-lifecycle-events.md). A decrypted call event has `eventType` `callStarted`,
`callEnded` or `rosterUpdated`, `eventDateTime`, and for roster updates `participants@delta`: each with
`info.identity`, `isInLobby`, and `removedState` once they left. Participants with a Microsoft 365 `user`
identity are taken to be staff (the provider); anyone else (anonymous guest, ACS user, phone) is the patient
side. Display names are never read or kept.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from shared.domain.ehr_events import EhrEventKind
from shared.errors import InvalidRequestError

CALL_STARTED = "callStarted"
CALL_ENDED = "callEnded"
ROSTER_UPDATED = "rosterUpdated"
REAUTHORIZATION_REQUIRED = "reauthorizationRequired"
SUBSCRIPTION_REMOVED = "subscriptionRemoved"
MISSED = "missed"
LIFECYCLE_EVENTS = (REAUTHORIZATION_REQUIRED, SUBSCRIPTION_REMOVED, MISSED)

MAX_NOTIFICATIONS = 1000
MAX_VALIDATION_TOKENS = 100


class CallEventKind(StrEnum):
    STARTED = "started"
    PATIENT_WAITING = "patient_waiting"
    PROVIDER_CONNECTED = "provider_connected"
    PATIENT_CONNECTED = "patient_connected"
    DISCONNECTED = "disconnected"
    ENDED = "ended"

    @property
    def ehr_kind(self) -> EhrEventKind | None:
        """The visit event the EHR hears of (none for the call's start, which the first connection says, nor
        for the lobby, which the admission says)."""
        if self in (CallEventKind.STARTED, CallEventKind.PATIENT_WAITING):
            return None
        return EhrEventKind(self.value)


@dataclass(frozen=True)
class CallEvent:
    kind: CallEventKind
    at: datetime


@dataclass(frozen=True)
class Delivery:
    """One POST of Graph's: its items (checked one by one) and its validation tokens."""

    items: tuple[object, ...]
    validation_tokens: tuple[object, ...]


@dataclass(frozen=True)
class Notification:
    subscription_id: str
    client_state: str
    tenant_id: str
    lifecycle_event: str | None = None
    encrypted_content: Mapping[str, Any] | None = field(default=None, repr=False)


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


def parse_delivery(document: Any) -> Delivery:
    """Graph's `{"value": [...], "validationTokens": [...]}` body. Raises InvalidRequestError for anything
    else (nothing is applied); the items themselves are checked one by one with `parse_notification`."""
    if not isinstance(document, dict) or not isinstance(document.get("value"), list):
        raise InvalidRequestError("A change notification body is an object with a value array.")
    items, tokens = document["value"], document.get("validationTokens") or []
    if len(items) > MAX_NOTIFICATIONS or not isinstance(tokens, list) or len(tokens) > MAX_VALIDATION_TOKENS:
        raise InvalidRequestError("Too many notifications or validation tokens in one delivery.")
    return Delivery(tuple(items), tuple(tokens))


def parse_notification(item: Any) -> Notification:
    """One item of a delivery. Raises InvalidRequestError."""
    if not isinstance(item, dict):
        raise InvalidRequestError("A change notification must be an object.")
    subscription_id, client_state = item.get("subscriptionId"), item.get("clientState")
    if not isinstance(subscription_id, str) or not subscription_id or not isinstance(client_state, str):
        raise InvalidRequestError("A change notification needs subscriptionId and clientState.")
    tenant_id = str(item.get("tenantId") or "").lower()
    lifecycle = item.get("lifecycleEvent")
    if lifecycle is not None:
        if lifecycle not in LIFECYCLE_EVENTS:
            raise InvalidRequestError("Unknown lifecycle event.")
        return Notification(subscription_id, client_state, tenant_id, lifecycle_event=lifecycle)
    content = item.get("encryptedContent")
    if not isinstance(content, dict):
        raise InvalidRequestError("A call event notification needs encryptedContent (rich notifications).")
    return Notification(subscription_id, client_state, tenant_id, encrypted_content=content)


def call_events_of(resource: Mapping[str, Any]) -> tuple[CallEvent, ...]:
    """The visit events in one decrypted call event. Raises InvalidRequestError."""
    event_type = resource.get("eventType")
    try:
        at = datetime.fromisoformat(str(resource.get("eventDateTime")).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequestError("A call event needs eventDateTime (ISO 8601).") from None
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    if event_type == CALL_STARTED:
        return (CallEvent(CallEventKind.STARTED, at),)
    if event_type == CALL_ENDED:
        return (CallEvent(CallEventKind.ENDED, at),)
    if event_type == ROSTER_UPDATED:
        delta = resource.get("participants@delta") or []
        if not isinstance(delta, list) or not all(isinstance(p, dict) for p in delta):
            raise InvalidRequestError("participants@delta must be an array of participants.")
        kinds = (kind for kind in map(_roster_change, delta) if kind is not None)
        return tuple(CallEvent(kind, at) for kind in dict.fromkeys(kinds))
    return ()  # an event type we do not use


def _roster_change(participant: Mapping[str, Any]) -> CallEventKind | None:
    """What one participant's change means: left, waiting in the lobby (the patient side only), or in."""
    staff = _is_staff(participant)
    if participant.get("removedState") is not None:
        return CallEventKind.DISCONNECTED
    if participant.get("isInLobby") is True:
        return None if staff else CallEventKind.PATIENT_WAITING
    return CallEventKind.PROVIDER_CONNECTED if staff else CallEventKind.PATIENT_CONNECTED


def _is_staff(participant: Mapping[str, Any]) -> bool:
    info = participant.get("info")
    identity = info.get("identity") if isinstance(info, dict) else None
    user = identity.get("user") if isinstance(identity, dict) else None
    return isinstance(user, dict) and bool(user.get("id"))


def apply_call_event(row: dict[str, Any], event: CallEvent) -> None:
    """Move a visit-log row by one call event. Earliest starts and latest ends win, so duplicates and any
    order of arrival give the same row; derived figures are recomputed from the kept times. The first
    patient join is the earliest of the patient's launch (set by the launch), lobby arrival and admission."""
    if event.kind not in (CallEventKind.DISCONNECTED, CallEventKind.PATIENT_WAITING):
        _keep(row, "CallStartedAt", event.at, min)
    if event.kind is CallEventKind.PATIENT_WAITING:
        _keep(row, "FirstPatientJoinAt", event.at, min)
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
        # Known only when the patient's launch or lobby arrival was seen before the roster admitted them.
        row["LobbyWaitSeconds"] = int((admitted - arrived).total_seconds())


def _keep(row: dict[str, Any], name: str, at: datetime, pick: Any) -> None:
    current = row.get(name)
    row[name] = at if current is None else pick(current, at)
