"""Call events of visit meetings end to end: the rich subscription made when a meeting is created (real
msgraph-sdk against the Graph stand-in, which validates our webhook as Graph does), calls played through
the stand-in's encrypted notifications into the function (duplicates, out of order, forged and tampered
items), the visit log and the EHR write-back queue, lifecycle notifications, and the timer's work:
renew, reauthorize, recreate, retry a failed subscribe, DELETE after the visit."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

import azure.functions as func
import pytest
from azure.functions.timer import TimerRequest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from localworld.entra_client_credentials import EntraClientCredentials
from localworld.graph import GraphStandIn, Participant, graph_error
from shared import bootstrap
from shared.adapters.graph_subscriptions import GRAPH_SUBSCRIPTIONS_TABLE, SubscriptionStore, WatchedMeeting
from shared.adapters.visit_log import VISITS_TABLE, visit_partition
from shared.devhost.devkeys import ensure_development_key
from shared.domain.appointment import appointment_key
from shared.domain.ehr_events import EhrEvent
from shared.errors import MeetingsNotPermittedError, NotFoundError, UpstreamError
from shared.queue_names import EHR_WRITEBACK_QUEUE
from shared.services.call_events import (
    DeliveryOutcome,
    NotificationContext,
    receive_notifications,
    renew_subscriptions,
    watch_call_events,
)
from shared.services.meetings import get_or_create_meeting
from tests.appcalls import call
from tests.hl7_support import Sender, seed_sender

GEO = "EU"
TENANT = "5b0e7a4c-8d5e-4f27-9a61-2f4d1c3b9e10"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
SECRET = "s3cret-value"
ORGANIZER = "8b081ef6-4792-4def-b2c9-c363a1bf41d5"
START = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
END = START + timedelta(minutes=30)
PROVIDER = Participant.user(ORGANIZER, TENANT, display_name="Dr Meredith Grey")
PATIENT = Participant.guest(display_name="Jane Q Patient")


def webhook(url: str, query: dict[str, str], body: bytes) -> tuple[int, bytes]:
    """Where Graph posts: the app's function, as the Functions host would call it."""
    assert urlsplit(url).path == "/api/events/graph"
    request = func.HttpRequest(
        method="POST",
        url=url,
        headers={"Content-Type": "text/plain" if query else "application/json"},
        params=query,
        body=body,
    )
    response = call("receive_graph_notifications", request)
    return response.status_code, response.get_body()


@pytest.fixture
def graph(
    app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, graph_notification_key: str
) -> Iterator[GraphStandIn]:
    """The app configured for Teams through the Graph stand-in, with a development notification key."""
    stand_in = GraphStandIn(EntraClientCredentials(TENANT, CLIENT_ID, SECRET), deliver=webhook)
    with stand_in.server:
        url = stand_in.server.url
        settings = {
            "MEETING_PROVIDER": "graph",
            "PUBLIC_BASE_URL": "https://connector.hospital.example",
            "GRAPH_BASE_URL": f"{url}/v1.0",
            "GRAPH_AUTHORITY_HOST": url,
            "GRAPH_TENANT_ID": TENANT,
            "GRAPH_CLIENT_ID": CLIENT_ID,
            "GRAPH_CLIENT_SECRET": SECRET,
            "GRAPH_NOTIFICATION_KEY": graph_notification_key,
            "SSL_CERT_FILE": stand_in.server.ca_file,
            "REQUESTS_CA_BUNDLE": stand_in.server.ca_file,
        }
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        bootstrap.reset()
        table = bootstrap.get_storage().for_geo(GEO).table(GRAPH_SUBSCRIPTIONS_TABLE)
        for row in list(table.query("PartitionKey eq @pk", {"pk": "active"})):
            table.delete("active", row.entity["RowKey"])  # the timer's counts are then this test's alone
        yield stand_in


def open_visit(clinic: Sender, visit_id: str, start: datetime = START) -> str:
    meeting = get_or_create_meeting(
        bootstrap.get_storage(),
        bootstrap.get_meeting_service(),
        bootstrap.get_directory(),
        endpoint_id=clinic.endpoint.id,
        geo=GEO,
        visit_id=visit_id,
        start=start,
        end=start + (END - START),
        organizer_user_id=ORGANIZER,
    )
    return meeting.join_url


def visit_row(clinic: Sender, visit_id: str, start: datetime = START) -> dict:
    table = bootstrap.get_storage().for_geo(GEO).table(VISITS_TABLE)
    return table.get(visit_partition(clinic.endpoint.id, start), appointment_key(visit_id)).entity


def queued_events(clinic: Sender) -> list[EhrEvent]:
    queue = bootstrap.get_storage().for_geo(GEO).queue(EHR_WRITEBACK_QUEUE).client
    events = []
    for message in queue.receive_messages(max_messages=32, visibility_timeout=1):
        payload = json.loads(message.content)
        if payload.get("endpointId") == clinic.endpoint.id:
            events.append(EhrEvent.from_message(payload))
            queue.delete_message(message)
    return events


def store() -> SubscriptionStore:
    return SubscriptionStore(bootstrap.get_storage().for_geo(GEO))


def tick(at: datetime | None = None) -> dict[str, int]:
    """One run of the subscription timer's work at `at` (the function itself runs it at now)."""
    return dict(
        renew_subscriptions(bootstrap.get_storage(), bootstrap.get_meeting_service(), (GEO,), at or datetime.now(UTC))
    )


def deliver(body: dict) -> int:
    status, _ = webhook("https://connector.hospital.example/api/events/graph", {}, json.dumps(body).encode())
    return status


def receive(body: dict) -> DeliveryOutcome:
    context = NotificationContext(
        storage=bootstrap.get_storage(),
        directory=bootstrap.get_directory(),
        reader=bootstrap.get_notification_reader(),
        now=datetime.now(UTC),
    )
    return receive_notifications(body, context)


def test_the_validation_handshake_echoes_the_token_as_text(app_env) -> None:
    token = "Validation: Testing client application reachability for subscription Request-Id: 7f3a"
    status, body = webhook("https://connector.hospital.example/api/events/graph", {"validationToken": token}, b"")
    assert status == 200
    assert body.decode() == token


def test_a_new_meeting_is_subscribed_once_for_rich_notifications(
    graph: GraphStandIn, graph_notification_key: str
) -> None:
    clinic = seed_sender(GEO)
    seen: list[dict[str, str]] = []
    webhook_of_app = graph.deliver
    graph.deliver = lambda url, query, body: (seen.append(query), webhook_of_app(url, query, body))[1]
    join_url = open_visit(clinic, "CSN-1")
    open_visit(clinic, "CSN-1")  # the map answers: no second subscription
    assert len([query for query in seen if "validationToken" in query]) == 2  # both URLs, though the same
    [subscription] = graph.subscriptions.values()
    assert subscription["resource"] == (
        f"communications/onlineMeetings(joinWebUrl='{quote(join_url, safe='')}')/meetingCallEvents"
    )
    assert subscription["notificationUrl"] == subscription["lifecycleNotificationUrl"]
    assert subscription["notificationUrl"] == "https://connector.hospital.example/api/events/graph"
    assert subscription["changeType"] == "updated"
    assert subscription["includeResourceData"] is True
    pem = Path(graph_notification_key).read_bytes()
    ours = (
        x509.load_pem_x509_certificate(pem)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    sent = x509.load_der_x509_certificate(base64.b64decode(subscription["encryptionCertificate"]))
    assert (
        sent.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        == ours
    )
    assert b"PRIVATE" not in json.dumps(subscription).encode()
    assert subscription["encryptionCertificateId"].startswith("graph-notifications-")
    assert subscription["clientState"].startswith(f"{GEO}.")
    row = store().get(subscription["id"])
    assert row.meeting.visit_id == "CSN-1"
    assert subscription["clientState"] not in json.dumps(row.meeting.__dict__, default=str)


def test_the_endpoint_decides_whether_teams_announces_entry_and_exit(graph: GraphStandIn) -> None:
    clinic = seed_sender(GEO)
    config = bootstrap.get_config_store()
    current = config.read_endpoint(clinic.endpoint.id)
    config.replace_endpoint(
        replace(current.value, announce_entry_exit=True), current.etag, old_url=current.value.fhir_base_url
    )
    bootstrap.reset()  # configuration reads are cached per instance
    open_visit(clinic, "CSN-0")
    [meeting] = graph.meetings.values()
    assert meeting["isEntryExitAnnounced"] is True
    assert meeting["allowedPresenters"] == "organization"
    assert meeting["lobbyBypassSettings"]["scope"] == "organization"


def test_a_played_call_fills_the_visit_log_and_queues_visit_events(graph: GraphStandIn) -> None:
    clinic = seed_sender(GEO, ehr_write_back=True)
    call_ = graph.call(open_visit(clinic, "CSN-2"))
    assert call_.end(START + timedelta(minutes=22)) == 202  # out of order: the end first
    assert call_.leave(PATIENT, START + timedelta(minutes=20)) == 202
    assert call_.start(START - timedelta(minutes=3)) == 202
    assert call_.join(PROVIDER, START - timedelta(minutes=3)) == 202
    assert call_.lobby(PATIENT, START - timedelta(minutes=5)) == 202
    assert call_.admit(PATIENT, START - timedelta(minutes=1)) == 202
    assert call_.admit(PATIENT, START - timedelta(minutes=1)) == 202  # Graph redelivers
    assert call_.end(START + timedelta(minutes=22)) == 202
    row = visit_row(clinic, "CSN-2")
    assert row["FirstPatientJoinAt"] == START - timedelta(minutes=5)  # lobby arrival
    assert row["FirstPatientConnectedAt"] == START - timedelta(minutes=1)
    assert row["LobbyWaitSeconds"] == 240
    assert row["CallStartedAt"] == START - timedelta(minutes=3)
    assert row["EndedAt"] == START + timedelta(minutes=22)
    assert row["DurationSeconds"] == 25 * 60
    assert "Jane" not in json.dumps(row, default=str)
    assert "Meredith" not in json.dumps(row, default=str)
    kinds = sorted({str(event.kind) for event in queued_events(clinic)})
    assert kinds == ["disconnected", "ended", "patient_connected", "provider_connected"]


def test_a_patient_still_in_the_lobby_counts_as_waiting_not_connected(graph: GraphStandIn) -> None:
    clinic = seed_sender(GEO)
    call_ = graph.call(open_visit(clinic, "CSN-2b"))
    call_.lobby(PATIENT, START)
    row = visit_row(clinic, "CSN-2b")
    assert row["FirstPatientJoinAt"] == START
    assert "FirstPatientConnectedAt" not in row
    assert "CallStartedAt" not in row


def test_forged_and_tampered_items_are_dropped_one_by_one(graph: GraphStandIn, caplog) -> None:
    clinic = seed_sender(GEO, ehr_write_back=True)
    join_url = open_visit(clinic, "CSN-3")
    subscription_id = graph.subscription_of(join_url)
    ended = {"eventType": "callEnded", "eventDateTime": (START + timedelta(minutes=30)).isoformat()}
    genuine = graph.rich_delivery(subscription_id, ended)
    item = genuine["value"][0]
    content = item["encryptedContent"]
    other_world = GraphStandIn(EntraClientCredentials(TENANT, CLIENT_ID, SECRET))
    bad_items = [
        {**item, "clientState": f"{GEO}.{uuid.uuid4().hex}"},
        {**item, "clientState": "XX.nope"},
        {**item, "subscriptionId": str(uuid.uuid4())},
        {**item, "tenantId": "another-tenant"},
        {**item, "encryptedContent": {**content, "dataSignature": base64.b64encode(bytes(32)).decode()}},
        {**item, "encryptedContent": {**content, "data": content["data"][:-8] + "AAAAAAA="}},
        {**item, "encryptedContent": {**content, "encryptionCertificateId": "someone-else"}},
        {**item, "encryptedContent": "not an object"},
        {"subscriptionId": "x"},
        "not an item",
    ]
    for bad in bad_items:
        assert deliver({"value": [bad], "validationTokens": genuine["validationTokens"]}) == 202
    for tokens in (
        [],
        [graph.validation_token(app_id=str(uuid.uuid4()))],  # for another app
        [graph.validation_token(publisher=str(uuid.uuid4()))],  # not issued by Graph's notification service
        [other_world.validation_token()],  # signed with a key Graph does not publish
        ["not.a.jwt"],
    ):
        outcome = receive({"value": [item], "validationTokens": tokens})
        assert (outcome.applied, sum(outcome.dropped.values())) == (0, 1)
    with pytest.raises(NotFoundError):
        visit_row(clinic, "CSN-3")
    assert queued_events(clinic) == []

    mixed = receive({"value": [bad_items[0], item, bad_items[4]], "validationTokens": genuine["validationTokens"]})
    assert mixed.applied == 1
    assert mixed.dropped == {"not_authorised": 2}
    assert visit_row(clinic, "CSN-3")["EndedAt"] == START + timedelta(minutes=30)
    assert "Patient" not in caplog.text
    assert content["data"] not in caplog.text


@pytest.mark.parametrize("body", [b"{}", b"[]", b"not json", b'{"value": {}}', b'{"value": [], "validationTokens": 5}'])
def test_deliveries_that_are_not_graph_deliveries_get_a_400(app_env, body: bytes) -> None:
    request = func.HttpRequest(method="POST", url="http://127.0.0.1:7071/api/events/graph", headers={}, body=body)
    assert call("receive_graph_notifications", request).status_code == 400


def test_an_endpoint_without_write_back_logs_the_visit_but_queues_nothing(graph: GraphStandIn) -> None:
    clinic = seed_sender(GEO)
    graph.call(open_visit(clinic, "CSN-4")).end(START + timedelta(minutes=5))
    assert visit_row(clinic, "CSN-4")["EndedAt"] == START + timedelta(minutes=5)
    assert queued_events(clinic) == []


def test_reauthorization_required_reauthorizes_the_same_subscription(graph: GraphStandIn) -> None:
    clinic = seed_sender(GEO)
    join_url = open_visit(clinic, "CSN-5")
    subscription_id = graph.subscription_of(join_url)
    assert graph.lifecycle(subscription_id, "reauthorizationRequired") == 202
    call_ = graph.call(join_url)
    assert call_.start(START) is None  # Graph holds deliveries back until reauthorized
    assert tick()["reauthorized"] == 1
    assert graph.requests[-1].method == "POST"
    assert graph.requests[-1].path == f"/beta/subscriptions/{subscription_id}/reauthorize"
    assert list(graph.subscriptions) == [subscription_id]  # no second subscription for the meeting
    assert call_.end(START + timedelta(minutes=9)) == 202
    assert visit_row(clinic, "CSN-5")["EndedAt"] == START + timedelta(minutes=9)
    assert "reauthorized" not in tick()  # done: nothing more to do


def test_a_removed_subscription_is_recreated_and_its_successor_counts(graph: GraphStandIn) -> None:
    clinic = seed_sender(GEO)
    join_url = open_visit(clinic, "CSN-6")
    removed = graph.subscription_of(join_url)
    assert graph.lifecycle(removed, "subscriptionRemoved") == 202
    assert tick()["recreated"] == 1
    successor = graph.subscription_of(join_url)
    assert successor != removed
    with pytest.raises(NotFoundError):
        store().get(removed)
    assert store().get(successor).meeting.visit_id == "CSN-6"
    assert graph.call(join_url).end(START + timedelta(minutes=9)) == 202
    assert visit_row(clinic, "CSN-6")["EndedAt"] == START + timedelta(minutes=9)


def test_missed_notifications_are_recorded_on_the_visit(graph: GraphStandIn) -> None:
    clinic = seed_sender(GEO)
    subscription_id = graph.subscription_of(open_visit(clinic, "CSN-7"))
    assert graph.lifecycle(subscription_id, "missed") == 202
    assert visit_row(clinic, "CSN-7")["CallEventsMissed"] is True


def test_a_new_key_reaches_graph_with_the_next_renewal(
    graph: GraphStandIn, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clinic = seed_sender(GEO)
    join_url = open_visit(clinic, "CSN-8a", START + timedelta(days=3))
    old_id = graph.subscriptions[graph.subscription_of(join_url)]["encryptionCertificateId"]
    rotated = tmp_path / "rotated.pem"
    ensure_development_key({"GRAPH_NOTIFICATION_KEY": str(rotated)}, "GRAPH_NOTIFICATION_KEY", with_certificate=True)
    monkeypatch.setenv("GRAPH_NOTIFICATION_KEY", str(rotated))
    bootstrap.reset()
    assert tick(datetime.now(UTC) + timedelta(hours=23)) == {"renewed": 1}
    subscription = graph.subscriptions[graph.subscription_of(join_url)]
    assert subscription["encryptionCertificateId"] != old_id
    assert graph.call(join_url).start(START + timedelta(days=3)) == 202
    assert visit_row(clinic, "CSN-8a", START + timedelta(days=3))["CallStartedAt"] == START + timedelta(days=3)


def test_renewal_extends_due_subscriptions_and_recreates_one_graph_dropped(graph: GraphStandIn) -> None:
    clinic = seed_sender(GEO)
    later = START + timedelta(days=3)  # a visit long after a subscription's day of life
    first_url, second_url = open_visit(clinic, "CSN-8", later), open_visit(clinic, "CSN-9", later)
    first, second = (store().get(graph.subscription_of(url)) for url in (first_url, second_url))
    assert tick(datetime.now(UTC) + timedelta(hours=21)) == {}  # not due yet
    with graph._lock:
        del graph.subscriptions[second.subscription_id]  # Graph dropped it: a renewal gets 404
    counts = tick(datetime.now(UTC) + timedelta(hours=23))  # both due for renewal by then
    assert counts == {"renewed": 1, "recreated": 1}
    assert store().get(first.subscription_id).expires_at > first.expires_at
    assert store().get(graph.subscription_of(second_url)).meeting == second.meeting


def test_a_failed_subscribe_is_stored_and_retried_by_the_timer(graph: GraphStandIn) -> None:
    clinic = seed_sender(GEO)
    graph.subscribe_script.append(graph_error(500, "InternalServerError"))
    join_url = open_visit(clinic, "CSN-10")  # the meeting is there; its call events are not followed yet
    assert graph.subscriptions == {}
    assert tick() == {"subscribed": 1}
    subscription_id = graph.subscription_of(join_url)
    assert store().get(subscription_id).action == ""
    assert tick() == {}
    assert graph.call(join_url).start(START) == 202
    assert visit_row(clinic, "CSN-10")["CallStartedAt"] == START


def test_subscriptions_are_deleted_at_graph_when_the_visit_is_over(graph: GraphStandIn) -> None:
    clinic = seed_sender(GEO)
    subscription_id = graph.subscription_of(open_visit(clinic, "CSN-11"))
    assert tick(END + timedelta(hours=5)) == {}  # still watched: visits overrun
    assert tick(END + timedelta(hours=6, minutes=1)) == {"deleted": 1}
    assert graph.deleted == [subscription_id]
    assert graph.subscriptions == {}
    with pytest.raises(NotFoundError):
        store().get(subscription_id)


def test_a_second_subscription_for_a_meeting_is_not_called_an_access_policy_problem(graph: GraphStandIn) -> None:
    clinic = seed_sender(GEO)
    join_url = open_visit(clinic, "CSN-12")
    with pytest.raises(UpstreamError) as raised:
        bootstrap.get_meeting_service().subscribe_call_events(join_url, "EU.x", datetime.now(UTC) + timedelta(hours=1))
    assert not isinstance(raised.value, MeetingsNotPermittedError)
    assert "one per app and meeting" in raised.value.message
    assert not raised.value.retryable


def test_the_timer_function_runs_through_the_configured_meeting_service(app_env) -> None:
    """Sandbox meetings (the local default): the function maintains subscriptions over every served geography."""
    clinic = seed_sender(GEO)
    sandbox = bootstrap.get_meeting_service()
    meeting = WatchedMeeting(clinic.endpoint.id, "CSN-13", START, END + timedelta(hours=6), "http://127.0.0.1:7071/x")
    row = watch_call_events(bootstrap.get_storage(), GEO, sandbox, meeting, datetime.now(UTC) - timedelta(hours=23))
    call("renew_graph_subscriptions", TimerRequest())
    assert store().get(row.subscription_id).expires_at > row.expires_at
