"""The first run's demo organisation, made through the configuration API exactly as an admin and the Epic
analyst would: nothing here writes to storage, and the product has no seed code path.

Admin (tokens from the local sign-in page): organisation with both SMS consents, a sandbox phone number,
a test endpoint at the local Epic, SMS on, the sender certificate of `.devkeys/` (whose private key the
local Epic's interface engine signs SIU with), submitted. Analyst: validation against the local Epic
(SMART sign-in, `private_key_jwt`) and approval. A second run finds the organisation and endpoint by
name and FHIR base URL and does only what is still missing.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from localworld.entra import CLIENT_ID, EntraStandIn
from localworld.entra_signin import API_SCOPE, USERS, authorize_path, token_path
from shared.adapters.smart import new_pkce
from shared.devhost.devkeys import ensure_private_key

DEMO_JOIN_OPENS_MINUTES = 4 * 60
"""The demo visits (an hour from now, then every 40 minutes) can be joined from the first SMS on."""

DEMO_ORGANISATION = "Local Demo Hospital"
ADMIN = "admin@hospital.example"
APPROVER = "analyst@hospital.example"
ORGANIZER = "dr.grey@hospital.example"
"""The Teams user who organises the demo visits' meetings, so a patient's link opens before the provider."""
SEED_REDIRECT_URI = "http://localhost/seed"
"""The seed signs in as a native (public) client does: a loopback redirect URI, never fetched."""
SENDER_KEY_FILE = "epic-sender-key.pem"
TIMEOUT = 30


@dataclass(frozen=True)
class Seeded:
    org_id: str
    endpoint_id: str
    created: bool
    """False when a previous run had made (and approved) it already."""
    device_test_url: str
    """The device-test record's URL with its context token, as Epic's MyChart links it."""


class SeedError(RuntimeError):
    """A step of the seed was refused; the message names the step and the API's answer."""


def sign_in(entra_url: str, upn: str, scope: str = f"openid profile {API_SCOPE}") -> str:
    """An access token for `upn` by the code flow with PKCE through the sign-in page, as a person clicks it,
    at the authority of the user's own tenant."""
    tenant = next(user.tenant for user in USERS if user.upn == upn)
    verifier, challenge = new_pkce()
    state = secrets.token_urlsafe(12)
    query = {
        "client_id": CLIENT_ID,
        "response_type": "code",
        "redirect_uri": SEED_REDIRECT_URI,
        "scope": scope,
        "state": state,
        "nonce": secrets.token_urlsafe(12),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page = requests.get(f"{entra_url}{authorize_path(tenant)}?{urlencode(query)}", timeout=TIMEOUT)
    _expect(page, 200, "the sign-in page")
    picked = requests.post(
        f"{entra_url}{authorize_path(tenant)}", data={**query, "username": upn}, allow_redirects=False, timeout=TIMEOUT
    )
    _expect(picked, 302, "picking a user")
    answer = parse_qs(urlsplit(picked.headers["Location"]).query)
    if answer.get("state") != [state] or "code" not in answer:
        raise SeedError("the sign-in did not come back with a code for our state")
    form = {
        "client_id": CLIENT_ID,
        "grant_type": "authorization_code",
        "code": answer["code"][0],
        "redirect_uri": SEED_REDIRECT_URI,
        "code_verifier": verifier,
        "scope": scope,
    }
    tokens = requests.post(f"{entra_url}{token_path(tenant)}", data=form, timeout=TIMEOUT)
    _expect(tokens, 200, "redeeming the sign-in code")
    return tokens.json()["access_token"]


def seed(api_url: str, entra_url: str, fhir_base_url: str, key_dir: Path) -> Seeded:
    """The approved demo endpoint at `fhir_base_url`, made or found. `api_url` is the connector's `/api`.
    Raises SeedError naming the refused step."""
    key_file, key_created = sender_key(key_dir)
    admin = _Api(api_url, sign_in(entra_url, ADMIN))
    org, created = _organisation(admin)
    endpoint = next(
        (
            e
            for e in admin.get(f"/config/organisations/{org}/endpoints")["items"]
            if e["fhir_base_url"] == fhir_base_url
        ),
        None,
    )
    if endpoint is None:
        created = True
        endpoint = _create_endpoint(admin, org, fhir_base_url)
    if created or key_created:
        certificate = {"certificate": sender_certificate(key_file)}
        admin.call(
            "PUT",
            f"/config/organisations/{org}/sender-keys/test",
            200,
            "uploading the sender certificate",
            json=certificate,
        )
    endpoint_id = endpoint["id"]
    status = admin.get(f"/config/endpoints/{endpoint_id}")["status"]
    if status == "draft":
        admin.call("POST", f"/config/endpoints/{endpoint_id}/submit", 200, "submitting")
    if status in ("draft", "pending_approval"):
        _approve(_Api(api_url, sign_in(entra_url, APPROVER)), endpoint_id)
    device_test = admin.get(f"/config/endpoints/{endpoint_id}/integration-records")["device_test"]
    return Seeded(org, endpoint_id, created, f"{device_test['url']}?{urlencode({'ctx': device_test['context_token']})}")


def _organisation(admin: _Api) -> tuple[str, bool]:
    """The demo organisation's id, with both SMS consents given; (id, made now)."""
    found = next((o for o in admin.get("/config/organisations")["items"] if o["name"] == DEMO_ORGANISATION), None)
    org = found or admin.call(
        "POST",
        "/config/organisations",
        201,
        "creating the organisation",
        json={"name": DEMO_ORGANISATION, "geo": "US", "display_name": DEMO_ORGANISATION},
    )
    if not (org["consent_send_on_behalf"] and org["consent_patients_consented"]):
        etag = admin.get_etag(f"/config/organisations/{org['id']}")
        consents = {"consent_send_on_behalf": True, "consent_patients_consented": True}
        admin.call(
            "PATCH",
            f"/config/organisations/{org['id']}",
            200,
            "giving the SMS consents",
            json=consents,
            headers={"If-Match": etag},
        )
    return org["id"], found is None


def _create_endpoint(admin: _Api, org: str, fhir_base_url: str) -> dict:
    """A sandbox number bought (the order's operation polled), the test endpoint registered, SMS on."""
    ordered = admin.call(
        "POST",
        f"/config/organisations/{org}/phone-numbers",
        202,
        "ordering a phone number",
        json={"country_code": "US"},
    )
    deadline = time.monotonic() + TIMEOUT
    while (operation := admin.get(ordered["location"].removeprefix("/api")))["status"] == "running":
        if time.monotonic() > deadline:
            raise SeedError("the phone-number order did not finish")
        time.sleep(0.2)
    if operation["status"] != "succeeded":
        raise SeedError(f"the phone-number order ended {operation['status']}")
    registration = {
        "fhir_base_url": fhir_base_url,
        "environment": "test",
        "approver_upn": APPROVER,
        "time_zone": "America/New_York",
        "organizer_user_id": EntraStandIn.object_id(ORGANIZER),
    }
    endpoint = admin.call(
        "POST", f"/config/organisations/{org}/endpoints", 201, "registering the endpoint", json=registration
    )
    sms = {
        "confirmation_enabled": True,
        "reminders_enabled": True,
        "reminder_lead_minutes": [1440, 60],
        "from_number": operation["result"]["number"],
        "clinician_ready_enabled": True,
        # The demo's visits start within the next few hours: their links open the meeting at once.
        "join_opens_minutes": DEMO_JOIN_OPENS_MINUTES,
    }
    admin.call("PUT", f"/config/endpoints/{endpoint['id']}/sms", 200, "turning SMS on", json=sms)
    return endpoint


def _approve(analyst: _Api, endpoint_id: str) -> None:
    """The analyst validates against Epic (a browser's hops, by hand) and approves."""
    started = analyst.call("POST", f"/config/endpoints/{endpoint_id}/validation", 200, "starting validation")
    at_epic = requests.get(started["authorize_url"], allow_redirects=False, timeout=TIMEOUT)
    _expect(at_epic, 302, "signing in to Epic")
    callback = urlsplit(at_epic.headers["Location"])
    back = requests.get(f"{analyst.host}{callback.path}?{callback.query}", timeout=TIMEOUT)
    _expect(back, 200, "Epic's sign-in callback")
    analyst.call("POST", f"/config/endpoints/{endpoint_id}/approve", 200, "approving")


def sender_key(key_dir: Path) -> tuple[Path, bool]:
    """The interface engine's RSA key in `key_dir` (git-ignored), made on first use; (path, made now)."""
    path = key_dir / SENDER_KEY_FILE
    return path, ensure_private_key(path)


def sender_certificate(key_file: Path) -> str:
    """A Base64 `.cer` (DER) self-signed certificate of the key, as an admin uploads one."""
    from cryptography.hazmat.primitives import serialization

    from shared.adapters.graph_notifications import self_signed_certificate

    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    certificate = self_signed_certificate(key, "Local Epic interface engine", valid_days=365)
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()


class _Api:
    """The configuration API as one signed-in user calls it; every refusal is a SeedError naming the step."""

    def __init__(self, api_url: str, token: str) -> None:
        self.api_url = api_url
        self.host = api_url.removesuffix("/api")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str) -> dict:
        return self.call("GET", path, 200, f"reading {path}")

    def get_etag(self, path: str) -> str:
        answer = self.session.get(f"{self.api_url}{path}", timeout=TIMEOUT)
        _expect(answer, 200, f"reading {path}")
        return answer.headers["ETag"]

    def call(self, method: str, path: str, status: int, step: str, **kwargs: Any) -> dict:
        """The answer's JSON object (with the `Location` header as `location`)."""
        answer = self.session.request(method, f"{self.api_url}{path}", timeout=TIMEOUT, **kwargs)
        _expect(answer, status, step)
        document = answer.json() if answer.content else {}
        if "Location" in answer.headers:
            document["location"] = answer.headers["Location"]
        return document


def _expect(answer: requests.Response, status: int, step: str) -> None:
    if answer.status_code != status:
        raise SeedError(f"{step}: HTTP {answer.status_code} {answer.text[:300]}")
