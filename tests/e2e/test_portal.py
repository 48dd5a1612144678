"""The configuration portal against the local world: sign-in (code flow with PKCE by the app as a
confidential client), the session cookie, CSRF, and the same authorisation as the configuration API.

The whole set-up clicked through in Chromium is `test_portal_browser.py`; these are the refusals and the
contracts, over HTTP as a browser sends it.
"""

from __future__ import annotations

import contextlib
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from localworld.entra import OTHER_TENANT, TENANT
from localworld.seed import Seeded
from shared import bootstrap
from shared.adapters.config_store import PhoneNumber
from shared.adapters.portal_sessions import PortalSessions
from shared.domain.access import Caller
from shared.domain.config import NumberVerification
from tests.e2e.test_walkthrough import Running, run_world
from tests.portal_support import PortalBrowser

ADMIN = "admin@hospital.example"
READER = "reports@hospital.example"
OTHER_ADMIN = "admin@other-clinic.example"
CLIENT_SECRET = "portal-test-secret"


@dataclass
class PortalWorld:
    running: Running
    seeded: Seeded

    @property
    def base_url(self) -> str:
        return self.running.host.base_url


@contextlib.contextmanager
def portal_world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[PortalWorld]:
    """The seeded local world with both tenants allowed; then the app's Entra registration gets a client secret
    (the seed signs in as a public client before), so the portal signs in as a confidential client."""
    settings = {"ENTRA_ALLOWED_TENANTS": f"{TENANT},{OTHER_TENANT}", "ENTRA_CLIENT_SECRET": CLIENT_SECRET}
    with run_world(monkeypatch, tmp_path, settings) as running:
        seeded = running.world.seed()
        running.world.entra.client_secret = CLIENT_SECRET
        yield PortalWorld(running, seeded)


@pytest.fixture
def portal(config_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[PortalWorld]:
    with portal_world(monkeypatch, tmp_path) as portal:
        yield portal


def signed_in(portal: PortalWorld, upn: str) -> PortalBrowser:
    browser = PortalBrowser(portal.base_url)
    landed = browser.sign_in(upn)
    assert landed.status_code == 200, landed.text[:500]
    return browser


def test_sign_in_sets_an_http_only_session_cookie_and_keeps_tokens_out_of_the_browser(portal: PortalWorld) -> None:
    browser = PortalBrowser(portal.base_url)
    landed = browser.sign_in(ADMIN)

    assert landed.status_code == 200
    assert "Signed in as admin@hospital.example" in landed.text
    set_cookie = landed.history[-1].headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie
    assert "SameSite=Lax" in set_cookie
    assert "Path=/" in set_cookie
    cookies = list(browser.session.cookies)
    assert {c.name for c in cookies} == {"portal_session", "portal-signin_session"}  # the session; the sign-in's
    assert not any(len(c.value or "") > 60 or (c.value or "").count(".") == 2 for c in cookies)  # no JWT
    assert "eyJ" not in landed.text  # no token in the page either
    policy = landed.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "unsafe-eval" not in policy


def test_without_a_session_every_page_goes_to_sign_in_and_a_post_changes_nothing(portal: PortalWorld) -> None:
    browser = PortalBrowser(portal.base_url)

    page = browser.get("/api/portal/organisations/org_x", allow_redirects=False)
    post = browser.post("/api/portal/organisations", {"name": "X", "display_name": "X", "geo": "US"}, csrf="")

    assert page.status_code == 302
    assert page.headers["Location"] == "/api/portal/signin"
    assert post.history
    assert post.history[0].status_code == 302
    admin = signed_in(portal, ADMIN)
    assert "X</a>" not in admin.get("/api/portal").text


def test_an_expired_session_goes_back_to_sign_in(portal: PortalWorld) -> None:
    caller = Caller(ADMIN, "00000000-0000-0000-0000-00000000000a", TENANT, frozenset({"Connector.Admin"}))
    session_id, _ = PortalSessions(bootstrap.get_storage().control).create(
        caller, datetime.now(UTC) - timedelta(seconds=1)
    )
    browser = PortalBrowser(portal.base_url)
    browser.session.cookies.set("portal_session", session_id)

    answer = browser.get("/api/portal", allow_redirects=False)

    assert answer.status_code == 302
    assert answer.headers["Location"] == "/api/portal/signin"


def test_a_forged_form_without_the_csrf_token_changes_nothing(portal: PortalWorld) -> None:
    seeded = portal.seeded
    admin = signed_in(portal, ADMIN)
    before = admin.get(f"/api/portal/organisations/{seeded.org_id}").text

    forged = admin.post(f"/api/portal/organisations/{seeded.org_id}", {}, csrf="")  # both consents unticked
    wrong = admin.post(f"/api/portal/organisations/{seeded.org_id}", {}, csrf="not-the-token")
    created = admin.post("/api/portal/organisations", {"name": "Forged", "display_name": "F", "geo": "US"}, csrf="")

    assert (forged.status_code, wrong.status_code, created.status_code) == (403, 403, 403)
    assert "did not come from your portal session" in forged.text
    after = admin.get(f"/api/portal/organisations/{seeded.org_id}").text
    assert after.count("checked") == before.count("checked") == 2
    assert "Forged" not in admin.get("/api/portal").text


def test_a_report_reader_reads_reports_and_cannot_change_anything(portal: PortalWorld) -> None:
    seeded = portal.seeded
    reader = signed_in(portal, READER)
    home = reader.get("/api/portal").text

    report = reader.get(f"/api/portal/endpoints/{seeded.endpoint_id}/reports")
    csv = reader.get(f"/api/portal/endpoints/{seeded.endpoint_id}/reports?format=csv")
    attempts = [
        reader.post("/api/portal/organisations", {"name": "R", "display_name": "R", "geo": "US"}),
        reader.post(f"/api/portal/organisations/{seeded.org_id}", {}),
        reader.post(f"/api/portal/endpoints/{seeded.endpoint_id}/sms", {"reminder_lead_minutes": ""}),
        reader.post(f"/api/portal/organisations/{seeded.org_id}/phone-numbers", {"country_code": "US"}),
        reader.post(f"/api/portal/endpoints/{seeded.endpoint_id}/approve", {}),
    ]
    pages = [
        reader.get(f"/api/portal/organisations/{seeded.org_id}"),
        reader.get(f"/api/portal/endpoints/{seeded.endpoint_id}"),
    ]

    assert f"/api/portal/endpoints/{seeded.endpoint_id}/reports" in home  # the tenant's URLs, to report on
    assert f'/api/portal/endpoints/{seeded.endpoint_id}">Settings' not in home
    assert report.status_code == 200
    assert "SMS per day" in report.text
    assert csv.status_code == 200
    assert csv.text.startswith("jobId,")
    assert [a.status_code for a in attempts] == [403] * len(attempts)
    assert [p.status_code for p in pages] == [403, 403]
    admin = signed_in(portal, ADMIN)
    organisation = admin.get(f"/api/portal/organisations/{seeded.org_id}").text
    assert organisation.count("checked") == 2
    assert "Approved" in organisation


def test_an_admin_of_another_tenant_sees_nothing_of_this_organisation(portal: PortalWorld) -> None:
    seeded = portal.seeded
    other = signed_in(portal, OTHER_ADMIN)

    home = other.get("/api/portal")
    answers = [
        other.get(f"/api/portal/organisations/{seeded.org_id}"),
        other.get(f"/api/portal/organisations/{seeded.org_id}/audit"),
        other.get(f"/api/portal/endpoints/{seeded.endpoint_id}"),
        other.get(f"/api/portal/endpoints/{seeded.endpoint_id}/records"),
        other.get(f"/api/portal/endpoints/{seeded.endpoint_id}/reports"),
        other.post(f"/api/portal/organisations/{seeded.org_id}", {}),
    ]

    assert "Local Demo Hospital" not in home.text
    assert portal.running.world.epic.fhir_base_url not in home.text
    assert [a.status_code for a in answers] == [404] * len(answers)
    for answer in answers:
        assert "Local Demo Hospital" not in answer.text
        assert portal.running.world.epic.fhir_base_url not in answer.text


def test_sign_out_ends_the_session_on_the_server(portal: PortalWorld) -> None:
    admin = signed_in(portal, ADMIN)
    cookie = admin.session.cookies.get("portal_session")

    out = admin.post("/api/portal/signout", {})

    assert out.status_code == 200
    assert "signed out" in out.text
    replay = PortalBrowser(portal.base_url)
    replay.session.cookies.set("portal_session", cookie)
    assert replay.get("/api/portal", allow_redirects=False).status_code == 302


def test_an_admin_records_a_toll_free_number_s_verification_beside_it(portal: PortalWorld) -> None:
    org_id = portal.seeded.org_id
    number = "+18005550199"
    bootstrap.get_config_store().upsert_phone_number(
        PhoneNumber(org_id, number, "acs", datetime.now(UTC), NumberVerification.PENDING)
    )
    admin = signed_in(portal, ADMIN)
    assert "Awaiting toll-free verification" in admin.get(f"/api/portal/organisations/{org_id}").text

    recorded = admin.post(
        f"/api/portal/organisations/{org_id}/phone-numbers/verification", {"number": number, "verified": "true"}
    )

    assert recorded.status_code == 200
    assert "It passed toll-free verification" not in recorded.text
    assert bootstrap.get_config_store().get_phone_number(org_id, number).verification == NumberVerification.VERIFIED
    audit = admin.get(f"/api/portal/organisations/{org_id}/audit").text
    assert "phone_number.toll_free_verification" in audit


def test_the_approver_approves_only_the_version_shown_and_an_admin_edit_sends_it_back(portal: PortalWorld) -> None:
    endpoint = f"/api/portal/endpoints/{portal.seeded.endpoint_id}"
    admin, approver = signed_in(portal, ADMIN), signed_in(portal, "analyst@hospital.example")
    number = re.search(r"<option selected>([^<]+)</option>", admin.get(endpoint).text).group(1)

    def edit_sms(leads: str) -> None:
        form = {"from_number": number, "confirmation_enabled": "on", "reminders_enabled": "on"}
        assert admin.post(f"{endpoint}/sms", {**form, "reminder_lead_minutes": leads}).status_code == 200

    assert "sends it back to <strong>pending approval</strong>" in admin.get(endpoint).text  # said before saving
    edit_sms("1440")
    shown = re.search(r'name="version" value="(\d+)"', approver.get(endpoint).text).group(1)
    edit_sms("120")  # while the approver looks at the page
    approved = approver.post(f"{endpoint}/approve", {"version": shown}, csrf=approver.csrf(endpoint))

    assert approved.status_code == 409
    assert "The configuration changed" in approved.text
    page = approver.get(endpoint).text
    assert "Pending approval" in page
    assert "120 minutes before" in page  # what they are asked to approve now


def test_url_details_are_saved_only_if_unchanged_since_the_page_was_read(portal: PortalWorld) -> None:
    endpoint = f"/api/portal/endpoints/{portal.seeded.endpoint_id}"
    admin = signed_in(portal, ADMIN)
    page = admin.get(endpoint).text
    etag = html.unescape(re.search(r'name="etag" value="([^"]+)"', page).group(1))
    details = {"approver_upn": "new.analyst@hospital.example", "time_zone": "America/Chicago", "etag": etag}

    saved = admin.post(endpoint, {**details, "reason": "new analyst"}, csrf=admin.csrf(endpoint))
    stale = admin.post(endpoint, {**details, "time_zone": "Europe/London"}, csrf=admin.csrf(endpoint))

    assert saved.status_code == 200
    assert "new.analyst@hospital.example" in saved.text
    assert "Pending approval" in saved.text
    assert "Waiting for approval because: new analyst" in saved.text
    assert stale.status_code == 412
    assert "America/Chicago" in admin.get(endpoint).text


def test_a_refused_epic_sign_in_is_a_portal_page_for_a_browser_and_json_for_the_api(portal: PortalWorld) -> None:
    callback = f"{portal.base_url}/api/config/approval/callback?error=access_denied&state=s"

    page = requests.get(callback, headers={"Accept": "text/html,*/*"}, timeout=10)
    api = requests.get(callback, timeout=10)

    assert page.status_code == 400
    assert "Epic did not sign the approver in" in page.text
    assert page.headers["Content-Type"].startswith("text/html")
    assert api.status_code == 400
    assert api.headers["Content-Type"].startswith("application/problem+json")


def test_a_sign_in_answer_is_taken_only_by_the_browser_that_started_it(portal: PortalWorld) -> None:
    victim = PortalBrowser(portal.base_url)
    attacker = PortalBrowser(portal.base_url)
    answer = attacker.sign_in(ADMIN, follow_answer=False)  # the attacker's own code and state
    assert answer.status_code == 302

    forced = victim.session.get(answer.headers["Location"], allow_redirects=False, timeout=10)

    assert forced.status_code == 400
    assert "not started in this browser" in forced.text
    assert "Set-Cookie" not in forced.headers
