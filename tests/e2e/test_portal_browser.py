"""The whole set-up in the portal, clicked in headless Chromium against the local world, as the README's
"Portal" section describes it: admin (organisation, test URL, consents, a generated number with its
progress, linked, SMS set-up, certificate checked then saved, submitted), approver (Sign in with Epic,
approve), review (a record copied), then an SIU from the local Epic and the SMS report showing it to a
report reader. axe-core runs on every page (no serious or critical violation); every step's screenshot is
kept in `tests/artefacts/portal/` (git-ignored) for a reviewer.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
import requests

from localworld.entra import EntraStandIn
from localworld.epic_pages import Interface
from localworld.seed import ORGANIZER, sender_certificate, sender_key
from tests.browser import BROWSER_ARGS
from tests.e2e.test_walkthrough import PATIENT_NUMBER, Running, run_world

ROOT = Path(__file__).resolve().parents[2]
ARTEFACTS = ROOT / "tests" / "artefacts" / "portal"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING_IMPACTS = ("serious", "critical")
WAIT_MS = 60_000


@pytest.fixture
def running(config_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    with run_world(monkeypatch, tmp_path) as running:
        yield running


class Steps:
    """Screenshots and the accessibility check of each page a step ends on."""

    def __init__(self) -> None:
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        self.count = 0
        self.violations: dict[str, list[str]] = {}
        self.checked: dict[str, list[str]] = {}
        """Every page axe checked, with all its findings of any impact (written to axe.json)."""

    @staticmethod
    def run_axe(page: Any) -> list[dict[str, Any]]:
        page.evaluate(AXE.read_text())  # DevTools evaluation: the page's CSP stays as it is
        return page.evaluate("axe.run(document, {resultTypes: ['violations']})")["violations"]

    def prove_it_finds(self, page: Any) -> None:
        """The check can fail: an unlabelled field on a page without a language is found."""
        page.set_content("<html><body><main><input type=text></main></body></html>")
        found = {v["id"] for v in self.run_axe(page)}
        assert {"label", "html-has-lang"} <= found, found

    def check(self, page: Any, name: str) -> None:
        self.count += 1
        page.screenshot(path=str(ARTEFACTS / f"{self.count:02d}-{name}.png"), full_page=True)
        if "/api/portal" not in page.url:
            return  # the local world's pages (sign-in, Epic) are not the product's
        violations = self.run_axe(page)
        self.checked[name] = [f"{v['id']} ({v['impact']})" for v in violations]
        (ARTEFACTS / "axe.json").write_text(json.dumps(self.checked, indent=1))
        blocking = [f"{v['id']} ({v['impact']}): {v['help']}" for v in violations if v["impact"] in BLOCKING_IMPACTS]
        if blocking:
            self.violations[name] = blocking


def test_the_whole_set_up_in_the_portal(
    running: Running, chromium: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    if not AXE.exists():
        pytest.fail("axe-core is missing: run npm install (package.json devDependencies)")
    from playwright.sync_api import expect, sync_playwright

    world, base = running.world, running.host.base_url
    world.epic.trusted_jwks = requests.get(f"{base}/api/.well-known/jwks.json", timeout=10).json()
    key_file, _ = sender_key(world.key_dir)
    cer = tmp_path / "interface-engine.cer"
    cer.write_text(sender_certificate(key_file))
    steps = Steps()
    csp_reports: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), headless=True, args=list(BROWSER_ARGS))
        try:

            def person(upn_name: str) -> Any:
                context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone's screen
                page = context.new_page()
                page.on(
                    "console", lambda m: csp_reports.append(m.text) if "Content Security Policy" in m.text else None
                )
                page.goto(f"{base}/api/portal")
                expect(page.get_by_role("heading", name="Sign in to your account")).to_be_visible()
                page.get_by_role("button", name=upn_name).click()
                page.wait_for_url(f"{base}/api/portal")
                return context, page

            # --- the admin: organisation, URL, SMS, certificate ----------------------------------
            admin_context, page = person("Alex Admin")
            steps.prove_it_finds(admin_context.new_page())
            steps.check(page, "admin-home")
            page.get_by_label("Name", exact=True).fill("Portal Hospital")
            page.get_by_label("Name shown in SMS").fill("Portal Hospital")
            page.get_by_role("button", name="Create organisation").click()
            expect(page.get_by_role("heading", name="Portal Hospital")).to_be_visible()
            org_url = page.url.split("?")[0]
            steps.check(page, "organisation-created")

            page.get_by_label("FHIR base URL").fill(world.epic.fhir_base_url)
            page.get_by_label("Approver").fill("analyst@hospital.example")
            page.get_by_label("Teams meeting organiser").fill(EntraStandIn.object_id(ORGANIZER))
            page.get_by_role("button", name="Add URL").click()
            expect(page.get_by_text("Draft", exact=True)).to_be_visible()
            endpoint_url = page.url.split("?")[0]
            endpoint_id = endpoint_url.rsplit("/", 1)[1]
            steps.check(page, "url-added-draft")

            page.goto(org_url)
            expect(page.locator("tr", has_text=world.epic.fhir_base_url).get_by_text("Draft")).to_be_visible()
            page.get_by_label("send SMS to patients on our behalf").check()
            page.get_by_label("Our patients have consented").check()
            page.get_by_role("button", name="Save consents").click()
            steps.check(page, "consents-given")

            page.get_by_role("button", name="Generate a new phone number").click()
            expect(page.get_by_role("heading", name="Generating a phone number")).to_be_visible()
            steps.check(page, "number-order-progress")
            page.reload()  # the order survives a reload: its page is its URL
            expect(page.get_by_text("Your new number is")).to_be_visible(timeout=WAIT_MS)
            number = re.search(r"\+\d+", page.get_by_text("Your new number is").inner_text()).group(0)
            steps.check(page, "number-generated")

            page.goto(org_url)
            page.get_by_label("Base64 .cer file").first.set_input_files(str(cer))
            expect(page.get_by_label("Or paste its Base64 text").first).not_to_have_value("")  # read by the script
            page.get_by_role("button", name="Check certificate").first.click()
            expect(page.get_by_text("CN=Local Epic interface engine")).to_be_visible()
            expect(page.get_by_text("Thumbprint (SHA-256)")).to_be_visible()
            steps.check(page, "certificate-checked")
            page.get_by_role("button", name="Save this certificate").click()
            expect(page.get_by_text("Certificate: CN=Local Epic interface engine")).to_be_visible()
            steps.check(page, "certificate-saved")

            page.goto(endpoint_url)
            page.get_by_label("Phone number that sends").select_option(number)
            page.get_by_label("Confirmation SMS").check()
            page.get_by_label("Reminder SMS").check()
            page.get_by_label("Reminders, minutes before").fill("1440, 60")
            page.get_by_role("button", name="Save SMS set-up").click()
            expect(page.get_by_label("Reminders, minutes before")).to_have_value("1440, 60")
            expect(page.locator("td", has_text="Portal Hospital: your video visit is booked for")).to_be_visible()
            steps.check(page, "sms-set-up-with-preview")
            page.get_by_role("button", name="Submit for approval").click()
            expect(page.get_by_text("Pending approval").first).to_be_visible()
            steps.check(page, "submitted-pending")

            # --- the approver: Sign in with Epic, approve ---------------------------------------
            approver_context, approver = person("Ann Analyst")
            steps.check(approver, "approver-home")
            mine = approver.locator("tr", has_text=world.epic.fhir_base_url)
            mine.get_by_role("link", name="Settings and approval").click()  # the URL they are asked about
            expect(approver.get_by_role("heading", name=re.compile(r"Approve version \d+"))).to_be_visible()
            steps.check(approver, "approver-asked")
            approver.get_by_role("button", name="Sign in with Epic").click()
            approver.wait_for_url(re.compile(re.escape(endpoint_url) + r"\?notice=validated-with-epic"))
            approver.get_by_role("button", name=re.compile(r"Approve version \d+")).click()
            expect(approver.get_by_text("Approved", exact=True).first).to_be_visible()
            steps.check(approver, "approved")

            # --- review and finish: the records, copied ------------------------------------------
            approver_context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
            approver.get_by_role("link", name=re.compile("Review and finish")).click()
            expect(approver.get_by_role("heading", name=re.compile("integration records"))).to_be_visible()
            first = approver.locator("pre").first
            approver.get_by_role("button", name="Copy").first.click()
            expect(approver.get_by_text("Copied.")).to_be_visible()
            assert approver.evaluate("navigator.clipboard.readText()") == first.inner_text()
            steps.check(approver, "records-copied")

            # The admin's page says an edit would send it back before anything is saved.
            page.goto(endpoint_url)
            expect(page.get_by_text("sends it back to")).to_be_visible()
            steps.check(page, "admin-warned-before-edit")

            # --- an SIU from the local Epic, then the SMS report -----------------------------------
            world.epic.connect(Interface(f"{base}/api/hl7/{endpoint_id}", key_file.read_bytes(), ""))
            epic = admin_context.new_page()
            epic.goto(f"{world.epic.url}/")
            epic.locator("tr", has_text="Jane Doe").get_by_role("button", name="Schedule", exact=True).click()
            expect(epic.locator("tr", has_text="Jane Doe").locator("td.ack")).to_have_text("S12: AA")
            steps.check(epic, "epic-sent-siu")

            _, reader = person("Rita Reports")
            reader.locator("tr", has_text=world.epic.fhir_base_url).get_by_role("link", name="Reports").click()
            assert reader.url.startswith(f"{endpoint_url}/reports")
            for _ in range(120):  # as a person reloads the report while the SMS goes out
                if reader.locator("td", has_text="scheduled").count():
                    break
                reader.wait_for_timeout(500)
                reader.reload()
            expect(reader.locator("td", has_text="scheduled").first).to_be_visible()
            expect(reader.locator("svg[role=img]")).to_be_visible()
            assert PATIENT_NUMBER not in reader.content()
            assert "5550123" not in reader.content()
            steps.check(reader, "sms-report")
            with reader.expect_download() as download:
                reader.get_by_role("link", name="Download CSV").click()
            assert Path(download.value.path()).read_text().startswith("jobId,")
        finally:
            browser.close()

    assert len(steps.checked) >= 12  # every portal page of the set-up was checked
    assert steps.violations == {}, steps.violations
    assert csp_reports == []
    assert "POST /api/hl7/{endpointId} -> 200" in caplog.text  # the log was captured...
    for patient_data in ("5550123", "617555", "Jane", "JANE", "E1001"):  # the log holds no patient data
        assert patient_data not in caplog.text
