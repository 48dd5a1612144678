"""Call events without I/O: parsing Graph's deliveries and decrypted call events (current schema), decrypting
rich notifications, and a visit-log row that never moves backwards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.call_events import (
    CallEvent,
    CallEventKind,
    apply_call_event,
    call_events_of,
    client_state_hash,
    client_state_matches,
    geo_of_client_state,
    new_client_state,
    parse_delivery,
    parse_notification,
)
from shared.errors import InvalidRequestError

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
EVENTS = [
    CallEvent(CallEventKind.PATIENT_WAITING, T0 - timedelta(minutes=2)),
    CallEvent(CallEventKind.STARTED, T0),
    CallEvent(CallEventKind.PROVIDER_CONNECTED, T0),
    CallEvent(CallEventKind.PATIENT_CONNECTED, T0 + timedelta(minutes=3)),
    CallEvent(CallEventKind.DISCONNECTED, T0 + timedelta(minutes=20)),
    CallEvent(CallEventKind.ENDED, T0 + timedelta(minutes=21)),
]


def row_after(events: list[CallEvent]) -> dict:
    row = {"FirstPatientJoinAt": T0 - timedelta(minutes=1)}  # the patient's launch
    for event in events:
        apply_call_event(row, event)
    return row


@given(st.permutations(EVENTS + EVENTS[3:]))
def test_any_order_and_duplicates_give_the_same_row(events: list[CallEvent]) -> None:
    assert row_after(events) == row_after(EVENTS)


def test_the_row_holds_the_visit_figures() -> None:
    row = row_after(EVENTS)
    assert row["LobbyWaitSeconds"] == 5 * 60  # from the lobby arrival, before the launch was seen
    assert row["DurationSeconds"] == 21 * 60
    assert row["FirstPatientJoinAt"] == T0 - timedelta(minutes=2)


def test_lobby_wait_is_left_out_when_the_arrival_is_unknown() -> None:
    row: dict = {}
    apply_call_event(row, CallEvent(CallEventKind.PATIENT_CONNECTED, T0))
    assert row["FirstPatientJoinAt"] == T0
    assert "LobbyWaitSeconds" not in row


def participant(identity: dict, *, lobby: bool = False, left: bool = False) -> dict:
    entry = {"info": {"identity": identity}, "isInLobby": lobby, "id": "p"}
    return {**entry, "removedState": {"reason": "Participant has left the meeting call."}} if left else entry


def test_a_roster_update_names_roles_not_people() -> None:
    resource = {
        "@odata.type": "#microsoft.graph.callevent",
        "eventType": "rosterUpdated",
        "eventDateTime": "2026-05-04T09:00:00.0000000Z",
        "participants@delta": [
            participant({"user": {"id": "u1", "displayName": "Dr Grey", "tenantId": "t"}}),
            participant({"guest": {"id": "g1", "displayName": "Jane Doe"}}, lobby=True),
            participant({"guest": {"id": "g2", "displayName": "John Doe"}}),
            participant({"user": {"id": "u2"}}, lobby=True),  # staff in the lobby: nothing to count
            participant({"acsUser": {"id": "8:acs:x"}}, left=True),
        ],
    }
    events = call_events_of(resource)
    assert [event.kind for event in events] == [
        CallEventKind.PROVIDER_CONNECTED,
        CallEventKind.PATIENT_WAITING,
        CallEventKind.PATIENT_CONNECTED,
        CallEventKind.DISCONNECTED,
    ]
    assert {event.at for event in events} == {T0}
    assert "Jane" not in repr(events)


def test_call_start_and_end_and_unknown_event_types() -> None:
    assert call_events_of({"eventType": "callStarted", "eventDateTime": "2026-05-04T09:00:00Z"}) == (
        CallEvent(CallEventKind.STARTED, T0),
    )
    assert call_events_of({"eventType": "callEnded", "eventDateTime": "2026-05-04T09:00:00Z"})[0].kind == (
        CallEventKind.ENDED
    )
    assert call_events_of({"eventType": "Other", "eventDateTime": "2026-05-04T09:00:00Z"}) == ()


@pytest.mark.parametrize(
    "resource",
    [
        {"eventType": "callEnded", "eventDateTime": "noon"},
        {"eventType": "rosterUpdated", "eventDateTime": "2026-05-04T09:00:00Z", "participants@delta": "x"},
        {"eventType": "rosterUpdated", "eventDateTime": "2026-05-04T09:00:00Z", "participants@delta": [1]},
    ],
)
def test_malformed_call_events_are_refused(resource: dict) -> None:
    with pytest.raises(InvalidRequestError):
        call_events_of(resource)


def test_items_are_rich_or_lifecycle() -> None:
    delivery = parse_delivery({"value": [{}, "x"], "validationTokens": ["t"]})
    assert delivery.validation_tokens == ("t",)
    lifecycle = parse_notification(
        {"subscriptionId": "s", "clientState": "EU.x", "tenantId": "T", "lifecycleEvent": "missed"}
    )
    assert (lifecycle.lifecycle_event, lifecycle.tenant_id) == ("missed", "t")
    rich = parse_notification({"subscriptionId": "s", "clientState": "EU.x", "encryptedContent": {"data": "x"}})
    assert rich.encrypted_content == {"data": "x"}


@pytest.mark.parametrize("body", [None, {"value": "x"}, {"value": [], "validationTokens": "t"}, {"value": [{}] * 1001}])
def test_malformed_deliveries_are_refused(body: object) -> None:
    with pytest.raises(InvalidRequestError):
        parse_delivery(body)


@pytest.mark.parametrize(
    "item",
    [
        "x",
        {"clientState": "EU.x"},
        {"subscriptionId": "s", "clientState": "EU.x"},
        {"subscriptionId": "s", "clientState": "EU.x", "lifecycleEvent": "somethingElse"},
        {"subscriptionId": "s", "clientState": "EU.x", "resourceData": {"eventType": "callEnded"}},  # basic
    ],
)
def test_malformed_items_are_refused(item: object) -> None:
    with pytest.raises(InvalidRequestError):
        parse_notification(item)


def test_client_states_name_their_geography_and_only_match_themselves() -> None:
    state = new_client_state("APAC")
    assert geo_of_client_state(state) == "APAC"
    assert len(state) <= 128
    assert client_state_matches(state, client_state_hash(state))
    assert not client_state_matches(new_client_state("APAC"), client_state_hash(state))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
KEYS = st.sampled_from(["subscriptionId", "clientState", "tenantId", "lifecycleEvent", "encryptedContent"])


@given(st.dictionaries(KEYS, JSON) | JSON)
def test_hostile_items_are_refused_cleanly(item: object) -> None:
    try:
        notification = parse_notification(item)
    except InvalidRequestError:
        return
    assert isinstance(notification.subscription_id, str)
    assert (notification.lifecycle_event is None) != (notification.encrypted_content is None)


@given(
    st.fixed_dictionaries(
        {"eventType": st.sampled_from(["callStarted", "callEnded", "rosterUpdated", "x"])},
        optional={"eventDateTime": JSON | st.just("2026-05-04T09:00:00Z"), "participants@delta": JSON},
    )
)
def test_hostile_call_events_are_refused_cleanly(resource: dict) -> None:
    try:
        events = call_events_of(resource)
    except InvalidRequestError:
        return
    assert all(event.at.tzinfo is not None for event in events)
