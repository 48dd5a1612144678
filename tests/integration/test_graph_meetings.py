"""GraphMeetingService through the real msgraph-sdk and azure-identity, against HTTPS Graph and Entra stand-ins."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from localworld.entra_client_credentials import EntraClientCredentials
from localworld.graph import GraphStandIn, graph_error
from localworld.server import Response
from shared.adapters.graph_meetings import GraphMeetingService
from shared.domain.meetings import MEETING_SUBJECT, MeetingOptions, VisitKey
from shared.errors import MeetingsNotPermittedError, UpstreamError
from shared.settings import GraphConnection

TENANT = "contoso-tenant"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
SECRET = "s3cret-value"
ORGANIZER = "8b081ef6-4792-4def-b2c9-c363a1bf41d5"
START = datetime(2030, 5, 4, 14, 0, tzinfo=UTC)
END = START + timedelta(minutes=30)
NOTIFICATION_URL = "https://connector.hospital.example/api/events/graph"
OPTIONS = MeetingOptions(announce_entry_exit=False)


def connect(graph: GraphStandIn, secret: str = SECRET) -> GraphMeetingService:
    url = graph.server.url
    connection = GraphConnection(f"{url}/v1.0", url, tenant_id=TENANT, client_id=CLIENT_ID, client_secret=secret)
    return GraphMeetingService(connection, notification_url=NOTIFICATION_URL, verify=graph.server.ca_file)


@pytest.fixture
def graph() -> Iterator[tuple[GraphStandIn, EntraClientCredentials, GraphMeetingService]]:
    entra = EntraClientCredentials(TENANT, CLIENT_ID, SECRET)
    graph = GraphStandIn(entra)
    with graph.server:
        yield graph, entra, connect(graph)


def visit() -> VisitKey:
    return VisitKey(f"ep-{uuid.uuid4().hex[:8]}", f"csn-{uuid.uuid4().hex[:8]}")


def test_create_or_get_sends_opaque_external_id_and_sets_the_meeting_options(graph) -> None:
    stand_in, entra, service = graph
    key = visit()

    meeting = service.create_or_get(key, ORGANIZER, MEETING_SUBJECT, START, END, OPTIONS)

    create, patch = stand_in.requests
    assert create.method == "POST"
    assert create.path == f"/v1.0/users/{ORGANIZER}/onlineMeetings/createOrGet"
    assert create.headers["authorization"] == f"Bearer {entra.issued[0]}"
    body = json.loads(create.body)
    assert body["externalId"] == key.external_id
    assert key.endpoint_id not in body["externalId"]
    assert key.visit_id not in body["externalId"]
    assert body["subject"] == "Virtual visit"
    assert datetime.fromisoformat(body["startDateTime"]) == START
    assert datetime.fromisoformat(body["endDateTime"]) == END
    assert patch.method == "PATCH"
    assert patch.path == f"/v1.0/users/{ORGANIZER}/onlineMeetings/{meeting.id}"
    patched = json.loads(patch.body)
    assert patched.pop("@odata.type", "#microsoft.graph.onlineMeeting") == "#microsoft.graph.onlineMeeting"
    assert patched == {  # in the one PATCH, and nothing else changed
        "lobbyBypassSettings": {"scope": "organization"},
        "allowedPresenters": "organization",
        "isEntryExitAnnounced": False,
    }
    stored = stand_in.meetings[key.external_id]
    assert meeting.join_url == stored["joinWebUrl"]
    assert stored["lobbyBypassSettings"]["scope"] == "organization"  # patients wait in the lobby
    assert stored["allowedPresenters"] == "organization"  # patients cannot present
    assert stored["isEntryExitAnnounced"] is False


def test_entry_and_exit_announcements_follow_the_endpoint(graph) -> None:
    stand_in, _, service = graph
    key = visit()
    service.create_or_get(key, ORGANIZER, MEETING_SUBJECT, START, END, MeetingOptions(announce_entry_exit=True))
    assert stand_in.meetings[key.external_id]["isEntryExitAnnounced"] is True
    assert stand_in.meetings[key.external_id]["allowedPresenters"] == "organization"


def test_a_second_call_gets_the_same_meeting_without_patching_again(graph) -> None:
    stand_in, _, service = graph
    key = visit()
    first = service.create_or_get(key, ORGANIZER, MEETING_SUBJECT, START, END, OPTIONS)
    second = service.create_or_get(key, ORGANIZER, MEETING_SUBJECT, START, END, OPTIONS)
    assert first == second
    assert [r.method for r in stand_in.requests] == ["POST", "PATCH", "POST"]


def test_throttling_is_waited_out_once(graph) -> None:
    stand_in, _, service = graph
    stand_in.script.append(graph_error(429, "TooManyRequests", retry_after=0))
    meeting = service.create_or_get(visit(), ORGANIZER, MEETING_SUBJECT, START, END, OPTIONS)
    assert meeting.join_url.startswith("https://teams.microsoft.com/")
    assert [r.method for r in stand_in.requests] == ["POST", "POST", "PATCH"]


def test_throttling_twice_is_a_retryable_upstream_error(graph) -> None:
    stand_in, _, service = graph
    stand_in.script += [graph_error(429, "TooManyRequests", retry_after=0)] * 2
    with pytest.raises(UpstreamError) as raised:
        service.create_or_get(visit(), ORGANIZER, MEETING_SUBJECT, START, END, OPTIONS)
    assert raised.value.retryable
    assert len(stand_in.requests) == 2


def test_a_long_retry_after_is_not_waited_in_line(graph) -> None:
    stand_in, _, service = graph
    stand_in.script.append(graph_error(429, "TooManyRequests", retry_after=120))
    with pytest.raises(UpstreamError) as raised:
        service.create_or_get(visit(), ORGANIZER, MEETING_SUBJECT, START, END, OPTIONS)
    assert raised.value.retryable
    assert len(stand_in.requests) == 1


def test_server_errors_are_retryable(graph) -> None:
    stand_in, _, service = graph
    stand_in.script.append(graph_error(500, "InternalServerError"))
    with pytest.raises(UpstreamError) as raised:
        service.create_or_get(visit(), ORGANIZER, MEETING_SUBJECT, START, END, OPTIONS)
    assert raised.value.retryable
    assert not isinstance(raised.value, MeetingsNotPermittedError)


def test_forbidden_means_the_access_policy_is_missing(graph) -> None:
    stand_in, _, service = graph
    stand_in.script.append(graph_error(403, "Forbidden"))
    with pytest.raises(MeetingsNotPermittedError) as raised:
        service.create_or_get(visit(), ORGANIZER, MEETING_SUBJECT, START, END, OPTIONS)
    assert raised.value.app_id == CLIENT_ID
    assert not raised.value.retryable


def test_a_refused_client_secret_is_not_retryable(graph) -> None:
    stand_in, _, _ = graph
    service = connect(stand_in, secret="a-wrong-secret")
    with pytest.raises(UpstreamError) as raised:
        service.create_or_get(visit(), ORGANIZER, MEETING_SUBJECT, START, END, OPTIONS)
    assert not raised.value.retryable
    assert "a-wrong-secret" not in str(raised.value)
    assert stand_in.requests == []


def test_unknown_routes_of_the_stand_in_are_not_mistaken_for_success(graph) -> None:
    stand_in, _, service = graph
    stand_in.script.append(Response.json({"id": "", "joinWebUrl": ""}))
    with pytest.raises(UpstreamError):
        service.create_or_get(visit(), ORGANIZER, MEETING_SUBJECT, START, END, OPTIONS)
