"""Call events of visit meetings end to end: the subscription made when a meeting is created (real
msgraph-sdk against the Graph stand-in), Graph's validation handshake, notifications in through the
function (duplicate, out of order, forged), the visit log and the EHR write-back queue, and renewal of
subscriptions including an expired one."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import azure.functions as func
import pytest
from azure.functions.timer import TimerRequest

from localworld.entra_client_credentials import EntraClientCredentials
from localworld.graph import GraphStandIn
from shared import bootstrap
from shared.adapters.graph_meetings import GraphMeetingService
from shared.adapters.graph_subscriptions import SubscriptionStore, WatchedMeeting
from shared.adapters.visit_log import VISITS_TABLE, VisitLog, visit_partition
from shared.domain.appointment import appointment_key
from shared.domain.ehr_events import EhrEvent
from shared.errors import NotFoundError
from shared.queue_names import EHR_WRITEBACK_QUEUE
from shared.services.call_events import renew_subscriptions, watch_call_events
from shared.services.meetings import get_or_create_meeting
from shared.settings import GraphConnection
from tests.appcalls import call
from tests.hl7_support import Sender, seed_sender

GEO = "EU"
TENANT = "contoso-tenant"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
SECRET = "s3cret-value"
ORGANIZER = "8b081ef6-4792-4def-b2c9-c363a1bf41d5"
START = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
END = START + timedelta(minutes=30)
NOTIFICATION_URL = "https://connector.hospital.example/api/events/graph"
PROVIDER = {"Id": "p1", "Identity": {"User": {"Id": ORGANIZER, "TenantId": TENANT}}}
PATIENT = {"Id": "p2", "Identity": {"Guest": {"Id": "guest-1"}}}


@pytest.fixture
def graph() -> Iterator[tuple[GraphStandIn, GraphMeetingService]]:
    entra = EntraClientCredentials(TENANT, CLIENT_ID, SECRET)
    stand_in = GraphStandIn(entra)
    with stand_in.server:
        url = stand_in.server.url
        connection = GraphConnection(f"{url}/v1.0", url, tenant_id=TENANT, client_id=CLIENT_ID, client_secret=SECRET)
        yield (
            stand_in,
            GraphMeetingService(connection, notification_url=NOTIFICATION_URL, verify=stand_in.server.ca_file),
        )


def open_visit(service: GraphMeetingService, clinic: Sender, visit_id: str) -> str:
    meeting = get_or_create_meeting(
        bootstrap.get_storage(),
        service,
        endpoint_id=clinic.endpoint.id,
        geo=GEO,
        visit_id=visit_id,
        start=START,
        end=END,
        organizer_user_id=ORGANIZER,
    )
    return meeting.join_url


def notification(subscription: dict, event_type: str, at: datetime, **data: object) -> dict:
    return {
        "subscriptionId": subscription["id"],
        "clientState": subscription["clientState"],
        "changeType": "updated",
        "resource": subscription["resource"],
        "tenantId": TENANT,
        "resourceData": {
            "@odata.type": "#Microsoft.Graph.onlineMeeting",
            "eventType": f"Microsoft.Communication.{event_type}",
            "eventDateTime": at.isoformat().replace("+00:00", "Z"),
            **data,
        },
    }


def deliver(*notifications: dict, params: dict[str, str] | None = None) -> func.HttpResponse:
    body = b"" if params else json.dumps({"value": list(notifications)}).encode()
    request = func.HttpRequest(
        method="POST",
        url="http://127.0.0.1:7071/api/events/graph",
        headers={"Content-Type": "application/json"} if body else {},
        params=params or {},
        body=body,
    )
    return call("receive_graph_notifications", request)


def visit_row(clinic: Sender, visit_id: str) -> dict:
    table = bootstrap.get_storage().for_geo(GEO).table(VISITS_TABLE)
    return table.get(visit_partition(clinic.endpoint.id, START), appointment_key(visit_id)).entity


def queued_events(clinic: Sender) -> list[EhrEvent]:
    queue = bootstrap.get_storage().for_geo(GEO).queue(EHR_WRITEBACK_QUEUE).client
    events = []
    for message in queue.receive_messages(max_messages=32, visibility_timeout=1):
        payload = json.loads(message.content)
        if payload.get("endpointId") == clinic.endpoint.id:
            events.append(EhrEvent.from_message(payload))
            queue.delete_message(message)
    return events


def test_the_validation_handshake_echoes_the_token_as_text(app_env) -> None:
    token = "Validation: Testing client application reachability for subscription Request-Id: 7f3a"
    response = deliver(params={"validationToken": token})
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.get_body().decode() == token


def test_a_new_meeting_is_subscribed_once_with_its_join_url(app_env, graph) -> None:
    stand_in, service = graph
    clinic = seed_sender(GEO)
    join_url = open_visit(service, clinic, "CSN-1")
    open_visit(service, clinic, "CSN-1")  # the map answers: no second subscription
    [subscription] = stand_in.subscriptions.values()
    assert stand_in.requests[-1].path == "/beta/subscriptions"
    assert subscription["resource"] == (
        f"communications/onlineMeetings(joinWebUrl='{quote(join_url, safe='')}')/meetingCallEvents"
    )
    assert subscription["notificationUrl"] == subscription["lifecycleNotificationUrl"] == NOTIFICATION_URL
    assert subscription["changeType"] == "updated"
    assert subscription["clientState"].startswith(f"{GEO}.")
    row = SubscriptionStore(bootstrap.get_storage().for_geo(GEO)).get(subscription["id"])
    assert row.meeting.visit_id == "CSN-1"
    assert subscription["clientState"] not in json.dumps(row.meeting.__dict__, default=str)


def test_call_events_fill_the_visit_log_and_queue_visit_events(app_env, graph) -> None:
    stand_in, service = graph
    clinic = seed_sender(GEO, ehr_write_back=True)
    open_visit(service, clinic, "CSN-2")
    VisitLog(bootstrap.get_storage()).record_launch(
        GEO,
        endpoint_id=clinic.endpoint.id,
        visit_id="CSN-2",
        scheduled_start=START,
        role="patient",
        department=None,
        at=START - timedelta(minutes=4),
    )
    [subscription] = stand_in.subscriptions.values()
    started = notification(subscription, "CallStarted", START - timedelta(minutes=3))
    provider_in = notification(
        subscription, "CallRosterUpdate", START - timedelta(minutes=3), **{"activeParticipants@joined": [PROVIDER]}
    )
    patient_in = notification(
        subscription, "CallRosterUpdate", START - timedelta(minutes=1), **{"activeParticipants@joined": [PATIENT]}
    )
    patient_out = notification(
        subscription, "CallRosterUpdate", START + timedelta(minutes=20), **{"activeParticipants@exited": [PATIENT]}
    )
    ended = notification(subscription, "CallEnded", START + timedelta(minutes=22))

    assert deliver(ended, patient_out).status_code == 202  # out of order: the end first
    assert deliver(started, provider_in, patient_in).status_code == 202
    assert deliver(patient_in, ended).status_code == 202  # duplicates
    row = visit_row(clinic, "CSN-2")
    assert row["FirstPatientJoinAt"] == START - timedelta(minutes=4)  # the launch, before the lobby
    assert row["FirstPatientConnectedAt"] == START - timedelta(minutes=1)
    assert row["LobbyWaitSeconds"] == 180
    assert row["EndedAt"] == START + timedelta(minutes=22)
    assert row["DurationSeconds"] == 25 * 60
    kinds = sorted({str(event.kind) for event in queued_events(clinic)})
    assert kinds == ["disconnected", "ended", "patient_connected", "provider_connected"]


def test_a_forged_client_state_is_refused_and_changes_nothing(app_env, graph) -> None:
    stand_in, service = graph
    clinic = seed_sender(GEO, ehr_write_back=True)
    open_visit(service, clinic, "CSN-3")
    [subscription] = stand_in.subscriptions.values()
    genuine = notification(subscription, "CallEnded", START + timedelta(minutes=30))
    forged = {**genuine, "clientState": f"{GEO}.{uuid.uuid4().hex}"}
    unknown = {**genuine, "subscriptionId": str(uuid.uuid4())}
    for bad in ([forged], [genuine, forged], [unknown], [{**genuine, "clientState": "XX.nope"}]):
        response = deliver(*bad)
        assert response.status_code == 401
        assert json.loads(response.get_body())["code"] == "not_authorised"
    with pytest.raises(NotFoundError):
        visit_row(clinic, "CSN-3")
    assert queued_events(clinic) == []


@pytest.mark.parametrize("body", [b"{}", b"[]", b"not json", b'{"value": [{"subscriptionId": "x"}]}'])
def test_malformed_deliveries_get_a_400(app_env, body: bytes) -> None:
    request = func.HttpRequest(method="POST", url="http://127.0.0.1:7071/api/events/graph", headers={}, body=body)
    assert call("receive_graph_notifications", request).status_code == 400


def test_an_endpoint_without_write_back_logs_the_visit_but_queues_nothing(app_env, graph) -> None:
    stand_in, service = graph
    clinic = seed_sender(GEO)
    open_visit(service, clinic, "CSN-4")
    [subscription] = stand_in.subscriptions.values()
    assert deliver(notification(subscription, "CallEnded", START + timedelta(minutes=5))).status_code == 202
    assert visit_row(clinic, "CSN-4")["EndedAt"] == START + timedelta(minutes=5)
    assert queued_events(clinic) == []


def test_renewal_extends_due_subscriptions_and_recreates_an_expired_one(app_env, graph) -> None:
    stand_in, service = graph
    clinic = seed_sender(GEO)
    open_visit(service, clinic, "CSN-5")
    second_url = open_visit(service, clinic, "CSN-6")
    store = SubscriptionStore(bootstrap.get_storage().for_geo(GEO))
    first, second = (store.get(sid) for sid in list(stand_in.subscriptions))
    stand_in.expire(second.subscription_id)  # Graph dropped it: a renewal gets 404
    later = datetime.now(UTC) + timedelta(hours=6)  # both expire within the renewal window by then
    counts = renew_subscriptions(bootstrap.get_storage(), service, (GEO,), later)
    assert counts["renewed"] >= 1
    assert counts["recreated"] >= 1
    assert store.get(first.subscription_id).expires_at > first.expires_at
    [recreated_id] = subscriptions_of(stand_in, second_url)
    assert store.get(recreated_id).meeting == second.meeting
    with pytest.raises(NotFoundError):
        store.get(second.subscription_id)
    # The new subscription's clientState is the one that counts now; the old one is refused.
    ended = notification(stand_in.subscriptions[recreated_id], "CallEnded", START + timedelta(minutes=9))
    assert deliver(ended).status_code == 202
    assert visit_row(clinic, "CSN-6")["EndedAt"] == START + timedelta(minutes=9)


def subscriptions_of(stand_in: GraphStandIn, join_url: str) -> list[str]:
    return [sid for sid, sub in stand_in.subscriptions.items() if quote(join_url, safe="") in sub["resource"]]


def test_a_removed_subscription_is_recreated_at_the_next_tick(app_env, graph) -> None:
    stand_in, service = graph
    clinic = seed_sender(GEO)
    join_url = open_visit(service, clinic, "CSN-7")
    [subscription] = stand_in.subscriptions.values()
    lifecycle = {
        "subscriptionId": subscription["id"],
        "clientState": subscription["clientState"],
        "lifecycleEvent": "subscriptionRemoved",
    }
    assert deliver(lifecycle).status_code == 202
    stand_in.expire(subscription["id"])
    counts = renew_subscriptions(bootstrap.get_storage(), service, (GEO,), datetime.now(UTC))
    assert counts["recreated"] >= 1
    [recreated_id] = subscriptions_of(stand_in, join_url)
    assert recreated_id != subscription["id"]


def test_subscriptions_of_visits_long_over_are_dropped(app_env, graph) -> None:
    stand_in, service = graph
    clinic = seed_sender(GEO)
    open_visit(service, clinic, "CSN-8")
    long_after = END + timedelta(days=2)
    counts = renew_subscriptions(bootstrap.get_storage(), service, (GEO,), long_after)
    assert counts["dropped"] >= 1
    [subscription_id] = stand_in.subscriptions
    with pytest.raises(NotFoundError):
        SubscriptionStore(bootstrap.get_storage().for_geo(GEO)).get(subscription_id)


def test_the_timer_renews_through_the_configured_meeting_service(app_env) -> None:
    """Sandbox meetings (the local default): the function runs the renewal over every served geography."""
    clinic = seed_sender(GEO)
    sandbox = bootstrap.get_meeting_service()
    row = watch_call_events(
        bootstrap.get_storage(),
        GEO,
        sandbox,
        WatchedMeeting(clinic.endpoint.id, "CSN-9", START, END + timedelta(hours=6), "http://127.0.0.1:7071/x"),
        datetime.now(UTC) - timedelta(hours=23),  # subscribed long ago: due now
    )
    call("renew_graph_subscriptions", TimerRequest())
    renewed = SubscriptionStore(bootstrap.get_storage().for_geo(GEO)).get(row.subscription_id)
    assert renewed.expires_at > row.expires_at
