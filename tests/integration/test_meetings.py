"""One meeting per visit, against Azurite: the map in the geography account, races, and the cost of a repeat."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests

from shared.adapters.sandbox_meetings import SandboxMeetingService
from shared.adapters.storage import Storage
from shared.domain.config import Endpoint, EndpointStatus, Environment
from shared.domain.meetings import CallSubscription, Meeting, VisitKey
from shared.errors import InvalidRequestError, MeetingNotOpenedError, NotFoundError
from shared.services.meetings import MEETINGS_TABLE, get_or_create_meeting
from shared.settings import get_settings

START = datetime(2030, 5, 4, 14, 0, tzinfo=UTC)
END = START + timedelta(minutes=30)


class RequestCounter:
    """Counts HTTP requests the azure-core transport sends (each is one storage transaction).

    Counted at requests.Session.send because azure-data-tables ignores `per_call_policies`.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        send = requests.Session.send

        def counting_send(session, request, **kwargs):
            self.count += 1
            return send(session, request, **kwargs)

        monkeypatch.setattr(requests.Session, "send", counting_send)


class RacingMeetings:
    """A meeting provider whose calls wait for each other, and that (unlike Graph) is not idempotent:
    the map alone must make both launches agree."""

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties, timeout=10)
        self.calls = 0

    def create_or_get(self, key: VisitKey, organizer_user_id: str, subject: str, start, end, options) -> Meeting:
        self.calls += 1
        self.barrier.wait()
        meeting_id = uuid.uuid4().hex
        return Meeting(meeting_id, f"https://teams.example/{meeting_id}")

    def subscribe_call_events(self, join_url: str, client_state: str, expires_at: datetime) -> CallSubscription:
        return CallSubscription(uuid.uuid4().hex, expires_at)

    def renew_call_events(self, subscription_id: str, expires_at: datetime) -> datetime:
        return expires_at


class MadeUpEndpoints:
    """The directory port for the endpoint ids these tests make up: each is an endpoint with default options."""

    def get_endpoint(self, endpoint_id: str) -> Endpoint:
        return Endpoint(
            id=endpoint_id,
            org_id="org-1",
            geo="EU",
            fhir_base_url="https://fhir.hospital.example/api/FHIR/R4",
            environment=Environment.PRODUCTION,
            approver_upn="analyst@hospital.example",
            time_zone="UTC",
            status=EndpointStatus.APPROVED,
            version=1,
        )


def meeting_for(storage: Storage, meetings, endpoint_id: str, visit_id: str, organizer: str | None = "org-1"):
    return get_or_create_meeting(
        storage,
        meetings,
        MadeUpEndpoints(),
        endpoint_id=endpoint_id,
        geo="EU",
        visit_id=visit_id,
        start=START,
        end=END,
        organizer_user_id=organizer,
    )


@pytest.mark.usefixtures("app_env")
def test_two_concurrent_launches_of_one_visit_end_with_one_meeting() -> None:
    storage = Storage(get_settings())
    meetings = RacingMeetings(2)
    endpoint_id, visit_id = f"ep-{uuid.uuid4().hex[:8]}", "csn-1"
    results: list[Meeting] = []
    threads = [
        threading.Thread(target=lambda: results.append(meeting_for(storage, meetings, endpoint_id, visit_id)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    assert meetings.calls == 2  # both really raced past the read
    assert len(results) == 2
    assert results[0] == results[1]
    stored = list(storage.for_geo("EU").table(MEETINGS_TABLE).list_partition(endpoint_id))
    assert len(stored) == 1
    assert stored[0].entity["JoinUrl"] == results[0].join_url


@pytest.mark.usefixtures("app_env")
def test_a_visit_that_has_its_meeting_costs_one_point_read(monkeypatch: pytest.MonkeyPatch) -> None:
    storage = Storage(get_settings())
    sandbox = SandboxMeetingService("http://127.0.0.1:7071")
    endpoint_id = f"ep-{uuid.uuid4().hex[:8]}"
    first = meeting_for(storage, sandbox, endpoint_id, "csn-2")
    counter = RequestCounter(monkeypatch)

    again = meeting_for(storage, sandbox, endpoint_id, "csn-2", organizer=None)

    assert again == first
    assert counter.count == 1


@pytest.mark.usefixtures("app_env")
def test_the_map_lives_in_the_visits_geography_only() -> None:
    storage = Storage(get_settings())
    endpoint_id = f"ep-{uuid.uuid4().hex[:8]}"
    meeting_for(storage, SandboxMeetingService("http://127.0.0.1:7071"), endpoint_id, "csn-3")
    key = VisitKey(endpoint_id, "csn-3")
    assert storage.for_geo("EU").table(MEETINGS_TABLE).get(endpoint_id, key.external_id)
    with pytest.raises(NotFoundError):
        storage.for_geo("US").table(MEETINGS_TABLE).get(endpoint_id, key.external_id)


@pytest.mark.usefixtures("app_env")
def test_without_meeting_or_organiser_the_visit_is_not_opened() -> None:
    storage = Storage(get_settings())
    with pytest.raises(MeetingNotOpenedError):
        meeting_for(storage, SandboxMeetingService("http://127.0.0.1:7071"), "ep-x", uuid.uuid4().hex, organizer=None)


@pytest.mark.usefixtures("app_env")
@pytest.mark.parametrize(("endpoint_id", "start", "end"), [("ep/1", START, END), ("ep-1", END, START)])
def test_unusable_input_changes_nothing(endpoint_id: str, start: datetime, end: datetime) -> None:
    storage = Storage(get_settings())
    with pytest.raises(InvalidRequestError):
        get_or_create_meeting(
            storage,
            SandboxMeetingService("http://127.0.0.1:7071"),
            MadeUpEndpoints(),
            endpoint_id=endpoint_id,
            geo="EU",
            visit_id="csn",
            start=start,
            end=end,
            organizer_user_id="org",
        )
