"""Call events without I/O: parsing Graph's notifications, and a visit-log row that never moves backwards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.call_events import (
    CallEvent,
    CallEventKind,
    apply_call_event,
    client_state_hash,
    client_state_matches,
    geo_of_client_state,
    new_client_state,
    parse_notifications,
)
from shared.errors import InvalidRequestError

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
EVENTS = [
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


@given(st.permutations(EVENTS + EVENTS[2:]))
def test_any_order_and_duplicates_give_the_same_row(events: list[CallEvent]) -> None:
    assert row_after(events) == row_after(EVENTS)


def test_the_row_holds_the_visit_figures() -> None:
    row = row_after(EVENTS)
    assert row["LobbyWaitSeconds"] == 4 * 60
    assert row["DurationSeconds"] == 21 * 60
    assert row["FirstPatientJoinAt"] == T0 - timedelta(minutes=1)


def test_lobby_wait_is_left_out_when_the_arrival_is_unknown() -> None:
    row: dict = {}
    apply_call_event(row, CallEvent(CallEventKind.PATIENT_CONNECTED, T0))
    assert row["FirstPatientJoinAt"] == T0
    assert "LobbyWaitSeconds" not in row


def test_a_roster_update_names_roles_not_people() -> None:
    [notification] = parse_notifications(
        {
            "value": [
                {
                    "subscriptionId": "s1",
                    "clientState": "EU.x",
                    "resourceData": {
                        "eventType": "Microsoft.Communication.CallRosterUpdate",
                        "eventDateTime": "2026-05-04T09:00:00Z",
                        "activeParticipants@joined": [
                            {"Identity": {"User": {"Id": "u1", "DisplayName": "Dr Grey"}}},
                            {"Identity": {"Guest": {"Id": "g1", "DisplayName": "Jane Doe"}}},
                            {"Identity": {"User": {"Id": "u2"}}},
                        ],
                        "activeParticipants@exited": [{"Identity": {"Guest": {"Id": "g2"}}}],
                    },
                }
            ]
        }
    )
    assert [event.kind for event in notification.events] == [
        CallEventKind.PROVIDER_CONNECTED,
        CallEventKind.PATIENT_CONNECTED,
        CallEventKind.DISCONNECTED,
    ]
    assert "Jane" not in repr(notification)


def test_unknown_event_types_are_ignored_and_lifecycle_events_kept() -> None:
    body = {
        "value": [
            {
                "subscriptionId": "s",
                "clientState": "EU.x",
                "resourceData": {"eventType": "Other", "eventDateTime": "2026-05-04T09:00:00Z"},
            },
            {"subscriptionId": "s", "clientState": "EU.x", "lifecycleEvent": "reauthorizationRequired"},
        ]
    }
    ignored, lifecycle = parse_notifications(body)
    assert ignored.events == ()
    assert lifecycle.lifecycle_event == "reauthorizationRequired"


@pytest.mark.parametrize(
    "body",
    [
        None,
        {"value": "x"},
        {"value": [{"clientState": "EU.x"}]},
        {"value": [{"subscriptionId": "s", "clientState": "EU.x"}]},
        {"value": [{"subscriptionId": "s", "clientState": "EU.x", "resourceData": {"eventDateTime": "noon"}}]},
    ],
)
def test_malformed_notifications_are_refused(body: object) -> None:
    with pytest.raises(InvalidRequestError):
        parse_notifications(body)


def test_client_states_name_their_geography_and_only_match_themselves() -> None:
    state = new_client_state("APAC")
    assert geo_of_client_state(state) == "APAC"
    assert len(state) <= 128
    assert client_state_matches(state, client_state_hash(state))
    assert not client_state_matches(new_client_state("APAC"), client_state_hash(state))
