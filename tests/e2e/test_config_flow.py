"""An organisation from nothing to an approved endpoint with SMS and a certificate, over real HTTP."""

from __future__ import annotations

import base64
import dataclasses
import datetime
import time
from urllib.parse import urlsplit

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

import function_app
from localworld.entra import EntraStandIn
from localworld.epic import EpicStandIn
from shared.devhost.host import DevHost
from shared.domain.context_token import verify
from shared.hostconfig import get_host_config
from shared.settings import get_settings

APPROVER = "analyst@mercy.example"


def sender_certificate() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "interconnect.mercy.example")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def test_admin_to_approved_endpoint_with_sms_certificate_and_records(epic: EpicStandIn, entra: EntraStandIn) -> None:
    semantics = dataclasses.replace(get_host_config().queues, max_polling_interval_seconds=0.2)
    host = DevHost(function_app.app, port=0, queue_semantics=semantics, timers=False)
    host.start()
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {entra.admin_token()}"
    base = f"{host.base_url}/api"
    try:
        epic.trusted_jwks = requests.get(f"{base}/.well-known/jwks.json", timeout=5).json()

        org = api.post(f"{base}/config/organisations", json={"name": "Mercy", "geo": "EU", "display_name": "Mercy"})
        assert org.status_code == 201, org.text
        org_id = org.json()["id"]
        consents = {"consent_send_on_behalf": True, "consent_patients_consented": True}
        consented = api.patch(
            f"{base}/config/organisations/{org_id}", json=consents, headers={"If-Match": org.headers["ETag"]}
        )
        assert consented.status_code == 200, consented.text

        ordered = api.post(f"{base}/config/organisations/{org_id}/phone-numbers", json={"country_code": "US"})
        assert ordered.status_code == 202, ordered.text
        operation_url = host.base_url + ordered.headers["Location"]
        deadline = time.monotonic() + 30
        while (operation := api.get(operation_url, timeout=5).json())["status"] == "running":
            assert time.monotonic() < deadline, "the phone-number order was not fulfilled"
            time.sleep(0.1)
        assert operation["status"] == "succeeded", operation
        number = operation["result"]["number"]

        endpoint = api.post(
            f"{base}/config/organisations/{org_id}/endpoints",
            json={
                "fhir_base_url": epic.fhir_base_url + "/",
                "environment": "production",
                "approver_upn": APPROVER,
                "time_zone": "Europe/Amsterdam",
                "require_body_hash": True,
            },
        )
        assert endpoint.status_code == 201, endpoint.text
        endpoint_url = host.base_url + endpoint.headers["Location"]
        endpoint_id = endpoint.json()["id"]
        sms = {
            "confirmation_enabled": True,
            "reminders_enabled": True,
            "reminder_lead_minutes": [1440, 120],
            "from_number": number,
            "discontinuation_notice_enabled": True,
        }
        saved = api.put(f"{endpoint_url}/sms", json=sms)
        assert saved.status_code == 200, saved.text
        defaults = {"default_language": "en", "segment_limit": 3, "clinician_ready_enabled": False}
        assert saved.json()["sms"] == {**sms, **defaults, "join_opens_minutes": 30}
        keys = api.put(
            f"{base}/config/organisations/{org_id}/sender-keys/production", json={"certificate": sender_certificate()}
        )
        assert keys.status_code == 200, keys.text
        assert api.get(f"{endpoint_url}/integration-records").status_code == 409
        assert api.post(f"{endpoint_url}/submit").json()["status"] == "pending_approval"

        approver = {"Authorization": f"Bearer {entra.token(APPROVER)}"}
        started = requests.post(f"{endpoint_url}/validation", headers=approver, timeout=10)
        assert started.status_code == 200, started.text
        authorize = requests.get(started.json()["authorize_url"], allow_redirects=False, verify=epic.ca_file, timeout=5)
        callback = urlsplit(authorize.headers["Location"])
        validated = requests.get(f"{host.base_url}{callback.path}?{callback.query}", timeout=10)
        assert validated.status_code == 200, validated.text
        approved = requests.post(f"{endpoint_url}/approve", headers=approver, timeout=10)
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "approved"

        records = api.get(f"{endpoint_url}/integration-records").json()
        assert records["provider_launch"]["fhir_base_url"] == epic.fhir_base_url
        assert records["provider_launch"]["context_parameters"]["sessionId"] == "%CSN%"
        assert records["sms_configuration"]["from_number"] == number
        assert records["direct_sms"]["hl7_url"].endswith(f"/api/hl7/{endpoint_id}")
        token = records["device_test"]["context_token"]
        assert (
            verify(
                token, "device-test", get_settings().require_context_token_secret(), datetime.datetime.now(datetime.UTC)
            )
            == endpoint_id
        )
        text = api.get(f"{endpoint_url}/integration-records", headers={"Accept": "text/plain"})
        assert text.headers["Content-Type"].startswith("text/plain")
        assert "Provider launch record" in text.text
        assert "departmentId=%PERFDEPID;;; ; ;;NONE;%" in text.text

        audit = api.get(f"{base}/config/organisations/{org_id}/audit").json()["items"]
        assert audit[0]["action"] == "endpoint.approved"
        assert len(audit) >= 8
    finally:
        host.stop()
