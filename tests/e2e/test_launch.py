"""SMART on FHIR EHR launch over real HTTP: the local host, Azurite, and Epic, Entra and Graph stand-ins.

A browser follows every redirect by hand, so each hop (Epic authorize, our callback, Microsoft 365
sign-in, the Teams join URL) is checked where it happens.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from azure.data.tables import TableClient

import function_app
from localworld.entra import TENANT, EntraStandIn
from localworld.entra_client_credentials import EntraClientCredentials
from localworld.epic import EpicStandIn
from localworld.epic_fhir import Visit
from localworld.graph import GraphStandIn, graph_error
from localworld.server import Request, Response
from shared import bootstrap
from shared.adapters.config_store import AuthState, ConfigStore
from shared.adapters.user_map import USER_MAP_TABLE, MappedUser, UserMap
from shared.adapters.visit_log import VISITS_TABLE
from shared.devhost.host import DevHost
from shared.domain.appointment import appointment_key
from shared.domain.config import Endpoint, EndpointStatus, SmsSettings
from shared.domain.join_tokens import new_token
from shared.domain.launch import LAUNCH_PURPOSE, ehr_user_key
from shared.hostconfig import get_host_config
from tests.hl7_support import FROM_NUMBER, seed_sender, siu
from tests.launch_support import Browser, ca_bundle, launch_url, seed_endpoint, set_status

TEAMS = "teams.microsoft.com"
START = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
PROVIDER_ID = "eM5CWtq15N0WJeuCet5bJlQ3"
PATIENT_ID = "erXuFYUfucBZaryVksYEcMg3"
ENTRA_SECRET = "entra-secret-1"


@dataclass
class Launch:
    epic: EpicStandIn
    entra: EntraStandIn
    graph: GraphStandIn
    host: DevHost
    browser: Browser
    env: dict[str, str]
    endpoint: Endpoint | None = None

    def visit(
        self, *, organizer: str | None = None, write_back: bool = False, **more: Any
    ) -> tuple[Endpoint, Visit, str]:
        """The approved endpoint at Epic's FHIR base (seeded on first use), and one booked visit of it:
        (endpoint, visit, CSN). `more`: patient_id, conference_id."""
        if self.endpoint is None:
            self.endpoint = seed_endpoint(
                self.epic.fhir_base_url, organizer_user_id=organizer, ehr_write_back=write_back
            )
        csn = str(uuid.uuid4().int)[:9]
        visit = self.epic.add_visit(
            csn,
            **{"patient_id": PATIENT_ID, **more},
            provider_id=PROVIDER_ID,
            start=START,
            end=START + timedelta(minutes=20),
        )
        return self.endpoint, visit, csn

    def provider(self, visit: Visit, csn: str | None, **more: str) -> tuple[requests.Response, list[str]]:
        return self.launch(self.epic.launch_visit(visit, "provider"), "provider", csn, **more)

    def patient(self, visit: Visit, csn: str | None, **more: str) -> tuple[requests.Response, list[str]]:
        return self.launch(self.epic.launch_visit(visit, "patient"), "patient", csn, **more)

    def launch(self, epic_launch: str, role: str, session_id: str | None, **more: str):
        parameters = {"sessionId": session_id, **more} if session_id else more
        url = launch_url(f"/api/launch/{role}", self.epic, epic_launch, **parameters)
        return self.browser.follow(url, stop_at=TEAMS)

    def table(self, name: str) -> TableClient:
        return TableClient.from_connection_string(self.env["GEO_EU_STORAGE"], name)


@pytest.fixture
def launch(
    epic: EpicStandIn,
    entra: EntraStandIn,
    config_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    graph_notification_key: str,
    tmp_path: Path,
) -> Iterator[Launch]:
    graph = GraphStandIn(EntraClientCredentials("tenant-1", "app-1", "secret-1"))
    with graph.server:
        settings = {
            "MEETING_PROVIDER": "graph",
            "GRAPH_BASE_URL": f"{graph.server.url}/v1.0",
            "GRAPH_AUTHORITY_HOST": graph.server.url,
            "GRAPH_TENANT_ID": "tenant-1",
            "GRAPH_CLIENT_ID": "app-1",
            "GRAPH_CLIENT_SECRET": "secret-1",
            "GRAPH_NOTIFICATION_KEY": graph_notification_key,
            "ENTRA_CLIENT_SECRET": ENTRA_SECRET,
            "SSL_CERT_FILE": graph.server.ca_file,
            "REQUESTS_CA_BUNDLE": ca_bundle(epic.ca_file, graph.server.ca_file),
            "EHR_WRITE_BACK_PROVIDER": "epic",
            "SMS_PROVIDER": "outbox",
            "SMS_OUTBOX_PATH": str(tmp_path / "sms.jsonl"),
        }
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        bootstrap.reset()
        entra.signed_in_upn, entra.client_secret = "dr.grey@hospital.example", ENTRA_SECRET
        epic.trusted_jwks = {"keys": [key.public_jwk() for key in bootstrap.get_signing_keys()]}
        semantics = dataclasses.replace(
            get_host_config().queues, visibility_timeout_seconds=0, max_polling_interval_seconds=0.2
        )
        host = DevHost(function_app.app, port=0, env=dict(os.environ), queue_semantics=semantics, timers=False)
        host.start()
        try:
            with requests.Session() as session:
                browser = Browser(host, settings["REQUESTS_CA_BUNDLE"], session)
                yield Launch(epic, entra, graph, host, browser, {**config_env, **settings})
        finally:
            host.stop()
            entra.client_secret = None


def assert_page(answer: requests.Response, status: int, *phrases: str) -> str:
    """A page for a person: the status, HTML, no redirect, the phrases; returns its support reference."""
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "Location" not in answer.headers
    assert "Traceback" not in answer.text
    for phrase in phrases:
        assert phrase in answer.text
    found = re.search(r"Support reference: <code>([0-9a-f]{12})</code>", answer.text)
    return found.group(1) if found else ""


def test_a_first_provider_launch_signs_in_once_and_the_next_goes_straight_to_the_meeting(launch: Launch) -> None:
    endpoint, visit, csn = launch.visit()

    _, hops = launch.provider(visit, csn, departmentId="10501")

    authorize = parse_qs(urlsplit(hops[1]).query)
    assert hops[1].startswith(f"{launch.epic.url}/oauth2/authorize?")
    assert authorize["aud"] == [launch.epic.fhir_base_url]
    assert authorize["scope"] == ["launch openid fhirUser user/Appointment.read user/Encounter.read"]
    assert authorize["code_challenge_method"] == ["S256"]
    assert authorize["redirect_uri"] == ["http://127.0.0.1:7071/api/launch/callback"]
    assert [urlsplit(hop).path for hop in hops[2:5]] == [
        "/api/launch/callback",
        f"/{TENANT}/oauth2/v2.0/authorize",  # the organisation's own tenant, not organizations
        "/api/launch/signin",
    ]
    assert urlsplit(hops[-1]).hostname == TEAMS
    assert launch.epic.token_refusals == []

    _, hops_again = launch.provider(visit, csn)

    assert [urlsplit(hop).path for hop in hops_again[2:3]] == ["/api/launch/callback"]
    assert len(hops_again) == 4  # launch, Epic authorize, callback, Teams: no second sign-in
    assert hops_again[-1] == hops[-1]
    create, patch, subscribe = launch.graph.requests
    assert subscribe.path == "/beta/subscriptions"  # the new meeting's call events
    organizer = EntraStandIn.object_id("dr.grey@hospital.example")
    assert create.path == f"/v1.0/users/{organizer}/onlineMeetings/createOrGet"
    assert datetime.fromisoformat(_json(create)["startDateTime"].replace("Z", "+00:00")) == START
    assert patch.method == "PATCH"

    [mapped] = launch.table(USER_MAP_TABLE).query_entities(
        "PartitionKey eq @p", parameters={"p": ehr_user_key(endpoint.org_id, f"Practitioner/{PROVIDER_ID}")}
    )
    assert mapped["ObjectId"] == organizer
    assert "eM5CWtq15N0WJeuCet5bJlQ3" not in str(dict(mapped))  # the EHR user id is kept only as a hash
    row = launch.table(VISITS_TABLE).get_entity(f"{endpoint.id}|{START:%Y%m%d}", appointment_key(csn))
    assert (row["VisitId"], row["ProviderLaunches"], row["PatientLaunches"]) == (csn, 2, 0)
    assert row["Department"] == "10501"
    assert row["FirstProviderLaunchAt"] == row["MeetingCreatedAt"]


def test_the_patient_launch_lands_in_the_same_meeting(launch: Launch) -> None:
    endpoint, visit, csn = launch.visit()
    _, provider_hops = launch.provider(visit, csn)

    _, patient_hops = launch.patient(visit, csn)

    assert parse_qs(urlsplit(patient_hops[1]).query)["scope"] == [
        "launch openid fhirUser patient/Appointment.read patient/Encounter.read"
    ]
    assert patient_hops[-1] == provider_hops[-1]
    assert urlsplit(patient_hops[-1]).hostname == TEAMS
    assert [(r.method, r.path.split("/")[1]) for r in launch.graph.requests] == [
        ("POST", "v1.0"),
        ("PATCH", "v1.0"),
        ("POST", "beta"),  # one subscription to the meeting's call events
    ]
    row = launch.table(VISITS_TABLE).get_entity(f"{endpoint.id}|{START:%Y%m%d}", appointment_key(csn))
    assert (row["ProviderLaunches"], row["PatientLaunches"]) == (1, 1)
    assert row["FirstPatientJoinAt"] >= row["FirstProviderLaunchAt"]


def test_a_patient_before_the_meeting_exists_is_asked_to_come_back(launch: Launch) -> None:
    _, visit, csn = launch.visit()
    answer, _ = launch.patient(visit, csn)
    assert_page(answer, 404, "has not opened this visit yet")
    assert "http-equiv" not in answer.text  # no refresh: a launch cannot be replayed
    assert launch.graph.requests == []


def test_with_an_endpoint_organiser_the_patient_may_open_the_meeting(launch: Launch) -> None:
    _, visit, csn = launch.visit(organizer="visits@hospital.example")
    _, hops = launch.patient(visit, csn)
    assert urlsplit(hops[-1]).hostname == TEAMS
    assert launch.graph.requests[0].path == "/v1.0/users/visits%40hospital.example/onlineMeetings/createOrGet"


@pytest.mark.parametrize("kind", ["unknown", "pending", "not https", "no fhir path"])
def test_an_unknown_or_unapproved_iss_gets_a_page_and_no_redirect(launch: Launch, kind: str) -> None:
    iss = {
        "unknown": f"https://evil-{uuid.uuid4().hex[:6]}.example/api/FHIR/R4",
        "pending": launch.epic.fhir_base_url,
        "not https": launch.epic.fhir_base_url.replace("https://", "http://"),
        "no fhir path": "https://evil.example/",
    }[kind]
    if kind == "pending":
        set_status(launch.visit()[0], EndpointStatus.PENDING_APPROVAL)
    else:
        launch.visit()
    answer = launch.browser.get(f"/api/launch/provider?{_query(iss=iss, launch='abc')}")
    reference = assert_page(answer, 403, "not set up for virtual visits")
    assert reference
    assert "evil" not in answer.text
    assert launch.epic.requests == []


def test_a_launch_without_iss_or_launch_is_refused_with_a_page(launch: Launch) -> None:
    assert_page(launch.browser.get("/api/launch/provider"), 400, "start again")
    assert_page(launch.browser.get(f"/api/launch/patient?{_query(iss=launch.epic.fhir_base_url)}"), 400)


def test_an_approval_lost_between_launch_and_callback_stops_the_launch(launch: Launch) -> None:
    endpoint, _, csn = launch.visit()
    started = launch.browser.get(
        launch_url("/api/launch/provider", launch.epic, launch.epic.new_launch(), sessionId=csn)
    )
    callback = launch.browser.get(started.headers["Location"]).headers["Location"]
    set_status(endpoint, EndpointStatus.PENDING_APPROVAL)
    bootstrap.reset()  # a fresh instance: running ones see the change once their directory cache expires
    answer = launch.browser.get(callback)
    assert_page(answer, 403, "not set up for virtual visits")
    assert launch.graph.requests == []


def test_a_replayed_callback_is_refused(launch: Launch) -> None:
    _, visit, csn = launch.visit()
    epic_launch = launch.epic.launch_visit(visit, "provider")
    started = launch.browser.get(launch_url("/api/launch/provider", launch.epic, epic_launch, sessionId=csn))
    callback = launch.browser.get(started.headers["Location"]).headers["Location"]

    assert launch.browser.get(callback).status_code == 302
    replay = launch.browser.get(callback)

    assert_page(replay, 400, "used already")
    assert parse_qs(urlsplit(callback).query)["state"][0] not in replay.text


def test_an_expired_state_is_refused_and_spent(launch: Launch) -> None:
    endpoint, _, _ = launch.visit()
    state = new_token("EU")
    states = ConfigStore(bootstrap.get_storage().for_geo("EU"))
    expired = datetime.now(UTC) - timedelta(seconds=1)
    token_url = f"{launch.epic.url}/oauth2/token"
    context = {"role": "provider", "session_id": "123"}
    states.create_auth_state(
        state, AuthState(endpoint.id, "", 0, "verifier", token_url, expired, LAUNCH_PURPOSE, context)
    )

    answer = launch.browser.get(f"/api/launch/callback?{_query(code='any', state=state)}")

    assert_page(answer, 400, "start again")
    assert launch.epic.requests == []  # no code exchange for an expired state
    assert_page(launch.browser.get(f"/api/launch/callback?{_query(code='any', state=state)}"), 400)


def test_an_approval_state_cannot_complete_a_launch(launch: Launch) -> None:
    endpoint, _, _ = launch.visit()
    state = new_token("EU")
    later = datetime.now(UTC) + timedelta(minutes=5)
    ConfigStore(bootstrap.get_storage().for_geo("EU")).create_auth_state(
        state, AuthState(endpoint.id, "analyst@hospital.example", 1, "v", f"{launch.epic.url}/oauth2/token", later)
    )
    assert_page(launch.browser.get(f"/api/launch/callback?{_query(code='any', state=state)}"), 400)


@pytest.mark.parametrize(
    ("answer", "status", "phrase"),
    [
        (Response.json({"error": "invalid_grant"}, status=400), 400, "start again"),
        (Response(503, "down"), 503, "try again"),
        (Response(200, "not json"), 502, "contact support"),
    ],
)
def test_epic_token_errors_become_pages(launch: Launch, answer: Response, status: int, phrase: str) -> None:
    _, visit, csn = launch.visit()
    launch.epic.token_errors.append(answer)
    page, hops = launch.provider(visit, csn)
    reference = assert_page(page, status, phrase)
    assert reference
    code = parse_qs(urlsplit(hops[-1]).query)["code"][0]
    assert code not in page.text
    assert launch.graph.requests == []


def test_epic_declining_the_sign_in_is_a_page(launch: Launch) -> None:
    launch.visit()
    answer = launch.browser.get(f"/api/launch/callback?{_query(error='access_denied', state=new_token('EU'))}")
    assert_page(answer, 400, "start again")


def test_missing_context_is_a_page(launch: Launch) -> None:
    _, visit, csn = launch.visit()
    no_visit, _ = launch.launch(launch.epic.new_launch(fhirUser=f"Practitioner/{PROVIDER_ID}"), "provider", None)
    assert_page(no_visit, 403, "cannot be opened for you")
    no_user, _ = launch.launch(launch.epic.new_launch(appointment=visit.appointment_id), "provider", csn)
    assert_page(no_user, 400, "start again")
    assert launch.graph.requests == []


def test_a_refused_microsoft_365_sign_in_maps_nobody(launch: Launch) -> None:
    endpoint, visit, csn = launch.visit()
    launch.entra.client_secret = "another-secret"
    answer, hops = launch.provider(visit, csn)
    assert_page(answer, 401)
    assert urlsplit(hops[-1]).path == "/api/launch/signin"
    rows = launch.table(USER_MAP_TABLE).query_entities(
        "PartitionKey eq @p", parameters={"p": ehr_user_key(endpoint.org_id, f"Practitioner/{PROVIDER_ID}")}
    )
    assert list(rows) == []


def test_two_launches_of_one_visit_at_once_share_one_meeting(launch: Launch) -> None:
    endpoint, visit, csn = launch.visit()
    users = UserMap(bootstrap.get_storage())
    for name in ("p1", "p2"):
        key = ehr_user_key(endpoint.org_id, f"Practitioner/{name}")
        users.upsert("EU", key, MappedUser(EntraStandIn.object_id(name), f"{name}@hospital.example"), datetime.now(UTC))
    results: dict[str, str] = {}

    def run(name: str) -> None:
        with requests.Session() as session:
            browser = Browser(launch.host, launch.browser.ca_file, session)
            epic_launch = launch.epic.new_launch(appointment=visit.appointment_id, fhirUser=f"Practitioner/{name}")
            url = launch_url("/api/launch/provider", launch.epic, epic_launch, sessionId=csn)
            results[name] = browser.follow(url, stop_at=TEAMS)[1][-1]

    threads = [threading.Thread(target=run, args=(name,)) for name in ("p1", "p2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert urlsplit(results["p1"]).hostname == TEAMS
    assert results["p1"] == results["p2"]
    assert len(launch.graph.meetings) == 1
    row = launch.table(VISITS_TABLE).get_entity(f"{endpoint.id}|{START:%Y%m%d}", appointment_key(csn))
    assert row["ProviderLaunches"] == 2


def test_teams_without_an_access_policy_is_a_page_for_the_admin(launch: Launch) -> None:
    _, visit, csn = launch.visit()
    launch.graph.script.append(graph_error(403, "Forbidden"))
    answer, _ = launch.provider(visit, csn)
    assert_page(answer, 502, "New-CsApplicationAccessPolicy")


def _query(**values: str) -> str:
    return urlencode(values)


def _json(request: Request) -> dict:
    return json.loads(request.body)


def test_a_patient_who_edits_session_id_is_refused(launch: Launch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    _, mine, csn = launch.visit(organizer="visits@hospital.example")
    _, other, other_csn = launch.visit(organizer="visits@hospital.example", patient_id="eOtherPatient")

    answer, _ = launch.patient(mine, other_csn)

    assert_page(answer, 403, "cannot be opened for you")
    assert other_csn not in answer.text
    assert launch.graph.requests == []
    _, hops = launch.patient(other, other_csn)  # that visit's own patient still gets in
    assert urlsplit(hops[-1]).hostname == TEAMS
    for secret in (csn, other_csn, PATIENT_ID, "eOtherPatient", mine.appointment_id, other.appointment_id):
        assert secret not in caplog.text  # no visit, patient or appointment ids in the logs


def test_a_launch_context_for_another_patients_visit_is_refused(launch: Launch) -> None:
    _, visit, csn = launch.visit(organizer="visits@hospital.example", patient_id="eOtherPatient")
    forged = launch.epic.new_launch(appointment=visit.appointment_id, patient=PATIENT_ID)

    answer, _ = launch.launch(forged, "patient", csn)

    assert_page(answer, 403, "cannot be opened for you")  # Epic's FHIR refuses the read: 403 forbidden
    assert [read for read, _ in _fhir_calls(launch.epic)] == [f"Appointment/{visit.appointment_id}"]
    assert launch.graph.requests == []


def test_without_a_patient_context_the_patients_own_fhir_user_names_them(launch: Launch) -> None:
    _, visit, csn = launch.visit(organizer="visits@hospital.example")
    own = launch.epic.new_launch(appointment=visit.appointment_id, fhirUser=f"Patient/{PATIENT_ID}")
    other = launch.epic.new_launch(appointment=visit.appointment_id, fhirUser="Patient/eSomeoneElse")

    _, hops = launch.launch(own, "patient", csn)
    refused, _ = launch.launch(other, "patient", csn)

    assert urlsplit(hops[-1]).hostname == TEAMS
    assert_page(refused, 403, "cannot be opened for you")


def test_a_provider_session_id_that_names_another_visit_is_refused(launch: Launch) -> None:
    _, visit, _ = launch.visit()
    _, _, other_csn = launch.visit()
    answer, _ = launch.provider(visit, other_csn)
    assert_page(answer, 403, "cannot be opened for you")
    assert launch.graph.requests == []


def test_provider_and_patient_of_one_visit_meet_at_the_appointments_times(launch: Launch) -> None:
    _, visit, csn = launch.visit()

    _, provider_hops = launch.provider(visit, csn)
    _, patient_hops = launch.patient(visit, None)  # MyChart without sessionId: the visit is still known

    assert patient_hops[-1] == provider_hops[-1]
    create = _json(launch.graph.requests[0])
    assert _instant(create["startDateTime"]) == START
    assert _instant(create["endDateTime"]) == START + timedelta(minutes=20)
    assert len(launch.graph.meetings) == 1


@pytest.mark.parametrize(
    ("context", "names_appointment"),
    [(("fhirContext",), False), (("encounter",), False), (("encounter",), True), (("appointment",), False)],
)
def test_each_shape_of_launch_context_finds_the_appointment(
    launch: Launch, context: tuple[str, ...], names_appointment: bool
) -> None:
    _, visit, csn = launch.visit()
    visit.encounter_names_appointment = names_appointment
    launch.epic.launch_visit(visit, "provider")  # another launch of the visit changes nothing

    answer, hops = launch.launch(launch.epic.launch_visit(visit, "provider", context=context), "provider", csn)

    assert urlsplit(hops[-1]).hostname == TEAMS, answer.text
    create = _json(launch.graph.requests[0])
    assert _instant(create["startDateTime"]) == START
    fhir = _fhir_calls(launch.epic)
    if context == ("encounter",) and not names_appointment:  # Epic: the Appointment sharing the CSN
        assert fhir == [(f"Encounter/{visit.encounter_id}", {}), ("Appointment", {"identifier": csn})]
    elif context == ("encounter",):
        assert fhir == [(f"Encounter/{visit.encounter_id}", {}), (f"Appointment/{visit.appointment_id}", {})]
    else:
        assert fhir == [(f"Appointment/{visit.appointment_id}", {})]


def test_only_an_unscheduled_visit_starts_now(launch: Launch) -> None:
    _, visit, csn = launch.visit(organizer="visits@hospital.example")
    visit.start = visit.end = None
    before = datetime.now(UTC)

    _, hops = launch.provider(visit, csn)

    assert urlsplit(hops[-1]).hostname == TEAMS
    create = _json(launch.graph.requests[0])
    assert before - timedelta(seconds=1) <= _instant(create["startDateTime"]) <= datetime.now(UTC)


def test_a_group_visit_brings_its_patients_into_one_meeting_and_no_one_else(launch: Launch) -> None:
    conference = f"CONF{uuid.uuid4().hex[:8]}"
    _, first, _ = launch.visit(organizer="visits@hospital.example", conference_id=conference)
    _, second, _ = launch.visit(organizer="visits@hospital.example", conference_id=conference, patient_id="eP2")
    _, stranger, _ = launch.visit(organizer="visits@hospital.example", patient_id="eP3")

    _, provider_hops = launch.provider(first, conference)
    _, first_hops = launch.patient(first, conference)
    _, second_hops = launch.patient(second, conference)
    refused, _ = launch.patient(stranger, conference)

    assert provider_hops[-1] == first_hops[-1] == second_hops[-1]
    assert urlsplit(provider_hops[-1]).hostname == TEAMS
    assert len(launch.graph.meetings) == 1
    assert_page(refused, 403, "cannot be opened for you")


def test_the_sms_link_and_the_provider_launch_of_one_appointment_share_one_meeting(launch: Launch) -> None:
    # The link opens the meeting from three hours before the start (the visit is two hours ahead).
    sms = SmsSettings(True, True, (1440, 60), FROM_NUMBER, join_opens_minutes=180)
    sender = seed_sender("EU", fhir_base_url=launch.epic.fhir_base_url, sms=sms)
    bootstrap.reset()
    csn = str(uuid.uuid4().int)[:9]
    visit = launch.epic.add_visit(csn, patient_id=PATIENT_ID, provider_id=PROVIDER_ID, start=START, end=START)
    body = siu("S12", appointment_id=csn, start=START)  # SCH-2 (filler id) = the CSN
    ack = requests.post(
        f"{launch.host.base_url}/api/hl7/{sender.endpoint.id}", data=body, headers=sender.headers(body), timeout=30
    )
    assert "MSA|AA" in ack.text
    join_url, token = _wait_for_link(Path(launch.env["SMS_OUTBOX_PATH"]))

    _, provider_hops = launch.provider(visit, csn)
    joined = launch.browser.post(join_url, data={"token": token})  # what the join page does with the fragment

    assert joined.status_code == 302
    assert joined.headers["Location"] == provider_hops[-1]
    assert len(launch.graph.meetings) == 1


def test_epic_hears_that_the_patient_waits_in_the_lobby(launch: Launch) -> None:
    _, visit, csn = launch.visit(organizer="visits@hospital.example", write_back=True)

    _, hops = launch.patient(visit, csn)

    assert urlsplit(hops[-1]).hostname == TEAMS
    deadline = time.monotonic() + 30
    while not launch.epic.telehealth.calls and time.monotonic() < deadline:
        time.sleep(0.1)
    [status] = launch.epic.telehealth.calls
    assert (status.conference_id, status.connection_status) == (csn, "3")  # waiting room


def _wait_for_link(outbox: Path) -> tuple[str, str]:
    """The join link of the first SMS sent: the join page's URL and the token of its fragment."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if outbox.exists() and (found := re.search(r"(https?://[^\s#]+/api/join)#([\w-]+)", outbox.read_text())):
            return found.group(1), found.group(2)
        time.sleep(0.1)
    raise AssertionError("no SMS with a join link was sent")


def _fhir_calls(epic: EpicStandIn) -> list[tuple[str, dict[str, str]]]:
    """The FHIR reads and searches Epic served (path after the base, query), discovery left out."""
    calls = [(r.path.split("/FHIR/R4/")[1], r.query) for r in epic.requests if "/FHIR/R4/" in r.path]
    return [call for call in calls if not call[0].startswith(".well-known")]


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
