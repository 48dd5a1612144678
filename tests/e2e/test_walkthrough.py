"""The README's "Try it in five minutes", driven through the local world: over HTTP for the seed, and in
headless Chromium (Playwright, the system Chromium) for the clicks a newcomer makes.

Schedule a visit on the local Epic page (a signed SIU to the ingress) -> the confirmation on the phone page
-> its link into the sandbox meeting -> the provider's launch (Epic, then the Entra sign-in page) and the
patient's MyChart launch land in the same meeting -> MyChart's device test opens.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from azure.data.tables import TableClient

import function_app
from localworld.epic_pages import send_siu
from localworld.epic_siu import siu_message
from localworld.seed import sign_in
from localworld.world import LocalWorld
from shared import bootstrap
from shared.adapters.sms_jobs import SMS_JOBS
from shared.devhost.azurite import free_port
from shared.devhost.devkeys import ensure_development_key
from shared.devhost.host import DevHost
from shared.hostconfig import get_host_config
from tests.browser import BROWSER_ARGS

PATIENT_NUMBER = "+16175550123"
"""Jane Doe's cell phone in the local Epic's first demo visit."""


@dataclass
class Running:
    world: LocalWorld
    host: DevHost
    outbox: Path


@contextlib.contextmanager
def run_world(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings_over: dict[str, str] | None = None, **providers: bool
) -> Iterator[Running]:
    """The connector on a port of its own (PUBLIC_BASE_URL names it, as in `make run`) with the local world;
    `settings_over`: app settings that win over the world's; `providers`: LocalWorld's graph/acs switches."""
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    outbox = tmp_path / "outbox" / "sms.jsonl"
    with LocalWorld(public, outbox=outbox, key_dir=tmp_path / "devkeys", **providers) as world:
        settings = {
            "PUBLIC_BASE_URL": public,
            "SMS_PROVIDER": "outbox",
            "SMS_OUTBOX_PATH": str(outbox),
            "MEETING_PROVIDER": "sandbox",
            "EPIC_PRIVATE_KEY": str(tmp_path / "devkeys" / "epic-private-key.pem"),
            **world.settings(),
            **(settings_over or {}),
        }
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        ensure_development_key(settings)
        bootstrap.reset()
        semantics = dataclasses.replace(
            get_host_config().queues, visibility_timeout_seconds=0, max_polling_interval_seconds=0.2
        )
        host = DevHost(function_app.app, port=port, env=dict(os.environ), queue_semantics=semantics, timers=False)
        host.start()
        try:
            yield Running(world, host, outbox)
        finally:
            host.stop()


@pytest.fixture
def running(config_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Running]:
    with run_world(monkeypatch, tmp_path) as running:
        yield running


def test_the_seed_goes_through_the_api_and_a_second_run_finds_it(running: Running) -> None:
    first = running.world.seed()
    second = running.world.seed()

    assert first.created
    assert not second.created
    assert (second.org_id, second.endpoint_id) == (first.org_id, first.endpoint_id)
    admin = running.world.entra.admin_token()
    api = f"{running.host.base_url}/api/config"
    organisations = requests.get(f"{api}/organisations", headers={"Authorization": f"Bearer {admin}"}, timeout=10)
    assert [o["name"] for o in organisations.json()["items"]].count("Local Demo Hospital") == 1
    endpoint = requests.get(
        f"{api}/endpoints/{first.endpoint_id}", headers={"Authorization": f"Bearer {admin}"}, timeout=10
    ).json()
    assert endpoint["status"] == "approved"
    assert endpoint["fhir_base_url"] == running.world.epic.fhir_base_url
    assert endpoint["sms"]["confirmation_enabled"] is True
    # The approval went through Epic: our client assertion was checked there and accepted.
    assert running.world.epic.token_refusals == []


def test_the_sign_in_page_serves_the_configuration_api_for_its_tenant_only(running: Running) -> None:
    running.world.seed()
    entra, api = running.world.entra.url, f"{running.host.base_url}/api/config/organisations"

    mine = requests.get(
        api, headers={"Authorization": f"Bearer {sign_in(entra, 'admin@hospital.example')}"}, timeout=10
    )
    other = sign_in(entra, "admin@other-clinic.example")
    theirs = requests.get(api, headers={"Authorization": f"Bearer {other}"}, timeout=10)

    assert mine.status_code == 200
    assert theirs.status_code in (401, 403)
    assert theirs.json()["code"] in ("not_authorised", "forbidden")


def test_the_five_minute_walkthrough_in_a_browser(
    running: Running, chromium: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    from playwright.sync_api import expect, sync_playwright

    running.world.seed()
    epic, phone = running.world.epic.url, running.world.phone.url
    meeting = re.compile(rf"^{re.escape(running.host.base_url)}/api/sandbox/meetings/[0-9a-f]{{64}}$")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), headless=True, args=list(BROWSER_ARGS))
        try:
            page = browser.new_context().new_page()

            # 1. Schedule Jane Doe's visit: Epic sends the signed SIU and shows the ACK.
            page.goto(f"{epic}/")
            visit = page.locator("tr", has_text="Jane Doe")
            visit.get_by_role("button", name="Schedule", exact=True).click()
            expect(page.locator("tr", has_text="Jane Doe").locator("td.ack")).to_have_text("S12: AA")

            # 2. The confirmation SMS on the phone page, its link clickable: into the sandbox meeting.
            page.goto(f"{phone}/")
            sms = page.locator("li.sms")
            deadline = time.monotonic() + 60
            while not sms.count() and time.monotonic() < deadline:  # as a person reloads the phone page
                page.wait_for_timeout(250)
                page.reload()
            expect(sms.first).to_contain_text("booked")
            assert PATIENT_NUMBER not in page.content()  # the phone page shows numbers masked
            sms.first.get_by_role("link").click()
            page.wait_for_url(meeting)
            patient_meeting = page.url

            # 3. The provider: Begin virtual visit -> Epic launch -> Microsoft 365 sign-in (pick a user) -> meeting.
            page.goto(f"{epic}/")
            page.locator("tr", has_text="Jane Doe").get_by_role("link", name="Begin virtual visit").click()
            expect(page.get_by_role("heading", name="Sign in to your account")).to_be_visible()
            page.get_by_role("button", name="Dr Meredith Grey").click()
            page.wait_for_url(meeting)
            assert page.url == patient_meeting

            # 4. The patient from MyChart: the same meeting; then MyChart's device test opens.
            page.goto(f"{epic}/mychart")
            page.locator("li", has_text="Jane Doe").get_by_role("link", name="Begin video visit").click()
            page.wait_for_url(meeting)
            assert page.url == patient_meeting
            page.goto(f"{epic}/mychart")
            page.get_by_role("link", name="Test your device").click()
            expect(page.get_by_role("heading", name="Test your device")).to_be_visible()
        finally:
            browser.close()
    assert "POST /api/hl7/{endpointId} -> 200" in caplog.text  # the connector's log was captured...
    for patient_data in ("5550123", "617555", "Jane", "JANE", "E1001"):  # ...and holds no patient data
        assert patient_data not in caplog.text


def test_with_graph_and_acs_chosen_the_sdks_meet_their_stand_ins_and_delivery_reports_come_back(
    config_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with run_world(monkeypatch, tmp_path, graph=True, acs=True) as running:
        world = running.world
        seeded = world.seed().endpoint_id
        visit = next(iter(world.epic.visits.values()))
        assert world.epic.interface is not None
        assert send_siu(world.epic.interface, siu_message(visit.siu, "schedule")) == "AA"

        deadline = time.monotonic() + 30
        while not (world.acs and world.acs.reports and world.acs.reports.delivered):
            assert time.monotonic() < deadline, "no delivery report reached the connector"
            time.sleep(0.2)
        phone = requests.get(f"{world.phone.url}/", timeout=10).text
        join = re.search(r'href="([^"#]+/api/join)#([^"]+)"', phone)
        assert join, "the SMS sent through ACS is on the phone page"
        # What the join page's script does with the link's fragment: post it.
        answer = requests.post(join.group(1), data={"token": join.group(2)}, allow_redirects=False, timeout=10)
        jobs = TableClient.from_connection_string(os.environ["GEO_US_STORAGE"], SMS_JOBS)
        recorded = [job["Delivery"] for job in jobs.query_entities("PartitionKey eq @p", parameters={"p": seeded})]

    assert recorded == ["delivered"]  # the report, in Event Grid's shape, reached and updated the job
    assert world.acs.reports.failed == 0
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("https://teams.microsoft.com/")  # Graph's createOrGet answer
    assert world.graph is not None
    assert len(world.graph.meetings) == 1
