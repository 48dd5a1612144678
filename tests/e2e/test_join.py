"""The patient's SMS link over real HTTP: the local host, Azurite, and (for Teams) the Graph stand-in."""

from __future__ import annotations

import contextlib
import html
import logging
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableClient

import function_app
from localworld.entra_client_credentials import EntraClientCredentials
from localworld.graph import GraphStandIn, graph_error
from shared import bootstrap
from shared.adapters.expiring import Expiries
from shared.adapters.join_tokens import JOIN_TOKENS_TABLE
from shared.devhost.azurite import free_port
from shared.devhost.host import DevHost
from shared.domain.config import SmsSettings
from shared.domain.join_tokens import ENDED_LINK_LIFETIME, new_token, token_hash
from shared.domain.meetings import VisitKey
from tests.browser import BROWSER_ARGS
from tests.hl7_support import seed_sender

NOW = datetime.now(UTC)


def host_for(env: dict[str, str]) -> DevHost:
    host = DevHost(function_app.app, port=0, env=env, timers=False)
    host.start()
    return host


@pytest.fixture
def host(app_env: dict[str, str]) -> Iterator[DevHost]:
    host = host_for(app_env)
    yield host
    host.stop()


def add_visit(
    env: dict[str, str],
    *,
    geo: str = "EU",
    status: str = "booked",
    start: datetime = NOW + timedelta(minutes=10),
    organizer: str | None = "3f1c0a5e-organiser",
    endpoint_id: str | None = None,
) -> tuple[str, str, str]:
    """Write a jointokens row as the HL7 side will, for a registered endpoint (its meeting options are read
    when the meeting is created); returns (token, endpoint id, visit id)."""
    token, endpoint_id, visit_id = new_token(geo), endpoint_id or seed_sender(geo).endpoint.id, uuid.uuid4().hex
    table = TableClient.from_connection_string(env[f"GEO_{geo}_STORAGE"], JOIN_TOKENS_TABLE)
    with contextlib.suppress(ResourceExistsError):
        table.create_table()
    entity = {
        "PartitionKey": token_hash(token),
        "RowKey": "",
        "EndpointId": endpoint_id,
        "Geo": geo,
        "VisitId": visit_id,
        "Start": start,
        "End": start + timedelta(minutes=30),
        "Status": status,
    }
    if organizer:
        entity["OrganizerUserId"] = organizer
    table.create_entity(entity)
    return token, endpoint_id, visit_id


def join(host: DevHost, token: str) -> requests.Response:
    """What the join page does with the token of `/api/join#<token>`: post it as a form."""
    return requests.post(f"{host.base_url}/api/join", data={"token": token}, allow_redirects=False, timeout=30)


def test_a_valid_link_redirects_to_the_one_meeting_of_the_visit(host: DevHost, app_env: dict[str, str]) -> None:
    token, endpoint_id, visit_id = add_visit(app_env)

    first, second = join(host, token), join(host, token)

    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert first.headers["Location"].endswith(f"/api/sandbox/meetings/{VisitKey(endpoint_id, visit_id).external_id}")
    assert first.headers["Referrer-Policy"] == "no-referrer"
    meeting_path = first.headers["Location"].split("127.0.0.1:7071", 1)[1]
    page = requests.get(f"{host.base_url}{meeting_path}?as=patient", timeout=10)
    assert page.status_code == 200
    assert "lobby" in page.text


def test_unknown_and_cancelled_links_get_the_same_page(host: DevHost, app_env: dict[str, str]) -> None:
    cancelled, _, _ = add_visit(app_env, status="cancelled")
    never = new_token("EU")
    answers = [join(host, token) for token in (never, cancelled, new_token("MARS"), "no-prefix", "x")]

    reference = answers[0]
    assert reference.status_code == 404
    assert "This link does not work" in reference.text
    for answer in answers[1:]:
        assert (answer.status_code, answer.content) == (reference.status_code, reference.content)
        assert answer.headers["Content-Type"] == reference.headers["Content-Type"]


def test_a_link_before_it_opens_shows_the_visit_time_a_countdown_and_the_device_test(
    config_env: dict[str, str],
) -> None:
    start = datetime(2031, 6, 12, 21, 30, tzinfo=UTC)  # endpoints of seed_sender are in America/New_York
    token, endpoint_id, _ = add_visit(config_env, start=start)
    host = host_for(config_env)  # with CONTEXT_TOKEN_SECRET: the device test's link can be signed
    try:
        answer = join(host, token)
        device_test = re.search(r'href="(/api/devicetest\?ctx=[^"]+)"', answer.text)
        assert device_test
        opened = requests.get(f"{host.base_url}{html.unescape(device_test.group(1))}", timeout=10)
        assert opened.status_code == 200
    finally:
        host.stop()

    assert answer.status_code == 200
    assert "Your visit opens soon" in answer.text
    assert "Riverside Clinic" in answer.text
    assert "Thu, Jun 12, 2031, 5:30 PM EDT" in answer.text
    assert f'data-opens="{(start - timedelta(minutes=30)).isoformat()}"' in answer.text
    assert "30 minutes before it starts" in answer.text
    assert token not in answer.text
    meetings = TableClient.from_connection_string(config_env["GEO_EU_STORAGE"], "meetings")
    assert list(meetings.query_entities("PartitionKey eq @p", parameters={"p": endpoint_id})) == []


def test_the_opening_time_is_the_endpoints_setting(host: DevHost, app_env: dict[str, str]) -> None:
    sender = seed_sender("EU", sms=SmsSettings(join_opens_minutes=90))
    opens_in_an_hour, _, _ = add_visit(app_env, start=NOW + timedelta(hours=1), endpoint_id=sender.endpoint.id)
    later, _, _ = add_visit(app_env, start=NOW + timedelta(hours=2), endpoint_id=sender.endpoint.id)
    assert join(host, opens_in_an_hour).status_code == 302
    assert join(host, later).status_code == 200


def test_after_the_visit_and_after_the_purge_the_link_says_the_visit_is_over(
    host: DevHost, app_env: dict[str, str]
) -> None:
    over, endpoint_id, _ = add_visit(app_env, start=NOW - timedelta(hours=3))
    purged, _, _ = add_visit(app_env, endpoint_id=endpoint_id)
    bootstrap.get_join_tokens().retire(purged, endpoint_id, NOW)

    for answer in (join(host, over), join(host, purged)):
        assert answer.status_code == 410
        assert "This visit is over" in answer.text
        assert "please contact Riverside Clinic" in answer.text
    assert bootstrap.get_join_tokens().find(purged) is None
    gone = NOW + ENDED_LINK_LIFETIME + timedelta(seconds=1)
    Expiries(bootstrap.get_storage().for_geo("EU")).delete_due(gone)
    assert join(host, purged).status_code == 404  # after a while: an unknown link like any other


def test_a_link_that_was_not_valid_yet_at_first_still_changes_nothing(host: DevHost, app_env: dict[str, str]) -> None:
    cancelled, endpoint_id, _ = add_visit(app_env, status="cancelled")
    join(host, cancelled)
    meetings = TableClient.from_connection_string(app_env["GEO_EU_STORAGE"], "meetings")
    assert list(meetings.query_entities("PartitionKey eq @p", parameters={"p": endpoint_id})) == []


def test_before_the_clinician_opens_the_visit_the_patient_is_asked_to_wait(
    host: DevHost, app_env: dict[str, str]
) -> None:
    token, _, _ = add_visit(app_env, organizer=None)
    answer = join(host, token)
    assert answer.status_code == 404
    assert "has not opened this visit yet" in answer.text
    assert '<meta http-equiv="refresh" content="30">' in answer.text


def test_a_storage_failure_is_a_page_with_a_reference_and_no_internals(
    host: DevHost, app_env: dict[str, str], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    token, endpoint_id, _ = add_visit(app_env)
    dead = re.sub(r"127\.0\.0\.1:\d+", f"127.0.0.1:{free_port()}", app_env["GEO_EU_STORAGE"])
    monkeypatch.setenv("GEO_EU_STORAGE", dead)
    bootstrap.reset()
    with caplog.at_level(logging.INFO):
        answer = join(host, token)
    assert answer.status_code == 503
    assert answer.headers["Content-Type"].startswith("text/html")
    reference = re.search(r"Support reference: <code>([0-9a-f]{12})</code>", answer.text).group(1)
    assert reference in caplog.text
    for secret in (token, "Traceback", "AccountKey", "127.0.0.1", endpoint_id):
        assert secret not in answer.text
    assert token not in caplog.text


@pytest.fixture
def graph_env(
    app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, graph_notification_key: str
) -> Iterator[tuple[GraphStandIn, dict]]:
    entra = EntraClientCredentials("tenant-1", "app-1", "secret-1")
    graph = GraphStandIn(entra)
    with graph.server:
        settings = {
            "MEETING_PROVIDER": "graph",
            "GRAPH_BASE_URL": f"{graph.server.url}/v1.0",
            "GRAPH_AUTHORITY_HOST": graph.server.url,
            "GRAPH_TENANT_ID": "tenant-1",
            "GRAPH_CLIENT_ID": "app-1",
            "GRAPH_CLIENT_SECRET": "secret-1",
            "GRAPH_NOTIFICATION_KEY": graph_notification_key,
        }
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        # How an operator trusts a private CA: httpx reads SSL_CERT_FILE, requests (MSAL) REQUESTS_CA_BUNDLE.
        monkeypatch.setenv("SSL_CERT_FILE", graph.server.ca_file)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", graph.server.ca_file)
        yield graph, {**app_env, **settings}


def test_with_teams_the_link_redirects_to_the_teams_meeting(graph_env) -> None:
    graph, env = graph_env
    token, _, _ = add_visit(env)
    host = host_for(env)
    try:
        answer = join(host, token)
    finally:
        host.stop()
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("https://teams.microsoft.com/l/meetup-join/")
    assert [(r.method, r.path.split("/")[1]) for r in graph.requests] == [
        ("POST", "v1.0"),
        ("PATCH", "v1.0"),
        ("POST", "beta"),  # the subscription to the new meeting's call events
    ]


def test_without_an_access_policy_the_page_tells_the_admin_what_to_grant(graph_env) -> None:
    graph, env = graph_env
    graph.script.append(graph_error(403, "Forbidden"))
    token, endpoint_id, _ = add_visit(env)
    host = host_for(env)
    try:
        answer = join(host, token)
    finally:
        host.stop()
    assert answer.status_code == 502
    assert "New-CsApplicationAccessPolicy" in answer.text
    assert "Grant-CsApplicationAccessPolicy" in answer.text
    assert "app id app-1" in answer.text
    assert "Support reference" in answer.text
    for secret in (token, endpoint_id, "secret-1", "Traceback"):
        assert secret not in answer.text


def test_a_link_sent_before_tokens_moved_to_the_fragment_still_works(host: DevHost, app_env: dict[str, str]) -> None:
    token, _, _ = add_visit(app_env)
    legacy = requests.get(f"{host.base_url}/api/join/{token}", allow_redirects=False, timeout=30)
    assert (legacy.status_code, legacy.headers["Location"]) == (302, join(host, token).headers["Location"])


@pytest.mark.parametrize("body", [b"token=" + b"x" * 600, b"\xff\xfe", b"", b"other=1"])
def test_a_malformed_join_form_gets_the_invalid_link_page(host: DevHost, body: bytes) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    answer = requests.post(f"{host.base_url}/api/join", data=body, headers=headers, allow_redirects=False, timeout=30)
    assert answer.status_code == 404
    assert "This link does not work" in answer.text


def test_the_join_page_carries_no_token_and_runs_only_its_own_script(host: DevHost) -> None:
    page = requests.get(f"{host.base_url}/api/join", timeout=30)
    assert page.status_code == 200
    nonce = re.search(r"script-src 'nonce-([^']+)'", page.headers["Content-Security-Policy"]).group(1)
    assert f'<script nonce="{nonce}">' in page.text
    assert 'action="/api/join"' in page.text


def test_in_a_browser_the_fragment_link_opens_the_meeting_and_the_token_never_reaches_a_url(
    host: DevHost, app_env: dict[str, str], chromium: Path
) -> None:
    from playwright.sync_api import sync_playwright

    token, endpoint_id, visit_id = add_visit(app_env)
    meeting = f"/api/sandbox/meetings/{VisitKey(endpoint_id, visit_id).external_id}"
    sent: list[tuple[str, str, str]] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=list(BROWSER_ARGS))
        try:
            page = browser.new_page()
            page.on("request", lambda r: sent.append((r.method, r.url.split("#", 1)[0], r.post_data or "")))
            # The sandbox meeting lives at PUBLIC_BASE_URL, which no server answers in this test.
            page.route("http://127.0.0.1:7071/**", lambda route: route.fulfill(body="the meeting", status=200))
            page.goto(f"{host.base_url}/api/join#{token}")
            page.wait_for_url(f"**{meeting}", timeout=30_000)
            final_url = page.url
        finally:
            browser.close()
    assert [method for method, url, _ in sent if "/api/join" in url] == ["GET", "POST"]
    assert all(token not in url for _, url, _ in sent)
    assert [body for method, _, body in sent if method == "POST"] == [f"token={token}"]
    assert token not in final_url  # the meeting's address does not inherit the fragment
