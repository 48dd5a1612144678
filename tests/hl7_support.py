"""Helpers for HL7 pipeline tests: an approved endpoint with a sender certificate, and SIU messages."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from shared import bootstrap
from shared.domain.config import Endpoint, EndpointStatus, Environment, Organisation, SenderKeys, SmsSettings
from shared.hl7v2.send import sender_token

FROM_NUMBER = "+18005550100"
PATIENT_PHONE = "+16175550123"
"""(617) 555-0123 in the messages: a valid US mobile-format number, as PID-13 carries it."""


@dataclass(frozen=True)
class Sender:
    endpoint: Endpoint
    organisation: Organisation
    key_pem: bytes
    public_base_url: str

    @property
    def audience(self) -> str:
        return f"{self.public_base_url}/api/hl7/{self.endpoint.id}"

    def token(self, body: bytes) -> str:
        return sender_token(self.key_pem, self.audience, body)

    def headers(self, body: bytes) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(body)}"}


def certificate(
    key: rsa.RSAPrivateKey, *, not_after: dt.datetime | None = None, not_before: dt.datetime | None = None
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Epic interface engine")])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - dt.timedelta(days=1))
        .not_valid_after(not_after or now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )


def seed_sender(
    geo: str = "EU",
    *,
    public_base_url: str = "http://127.0.0.1:7071",
    status: EndpointStatus = EndpointStatus.APPROVED,
    sms: SmsSettings | None = None,
    certificate_expired: bool = False,
    with_keys: bool = True,
    require_body_hash: bool = False,
    ehr_write_back: bool = False,
    fhir_base_url: str | None = None,
) -> Sender:
    """An organisation and an endpoint in `geo`, stored through the real ConfigStore, with a sender key."""
    store = bootstrap.get_config_store()
    suffix = secrets.token_hex(4)
    organisation = Organisation(
        id=f"org-{suffix}",
        name=f"Hospital {suffix}",
        geo=geo,
        display_name="Riverside Clinic",
        consent_send_on_behalf=True,
        consent_patients_consented=True,
    )
    endpoint = Endpoint(
        id=f"ep-{secrets.token_urlsafe(12)}",
        org_id=organisation.id,
        geo=geo,
        fhir_base_url=fhir_base_url or f"https://fhir-{suffix}.hospital.example/api/FHIR/R4",
        environment=Environment.PRODUCTION,
        approver_upn="analyst@hospital.example",
        time_zone="America/New_York",
        status=status,
        version=1,
        sms=sms or SmsSettings(True, True, (1440, 60), FROM_NUMBER),
        require_body_hash=require_body_hash,
        ehr_write_back=ehr_write_back,
    )
    store.create_organisation(organisation)
    store.create_endpoint(endpoint)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if with_keys:
        now = dt.datetime.now(dt.UTC)
        cert = (
            certificate(key, not_before=now - dt.timedelta(days=30), not_after=now - dt.timedelta(days=1))
            if certificate_expired
            else certificate(key)
        )
        store.upsert_sender_keys(
            SenderKeys(
                org_id=organisation.id,
                environment=Environment.PRODUCTION,
                certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
                not_after=cert.not_valid_after_utc,
            )
        )
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return Sender(endpoint, organisation, pem, public_base_url)


def siu(
    event: str = "S12",
    *,
    appointment_id: str = "APPT1",
    control_id: str | None = None,
    message_time: dt.datetime | None = None,
    start: dt.datetime | None = None,
    phone: str = "^PRN^CP^^1^617^5550123",
    patient: str = "DOE^JANE",
) -> bytes:
    """An Epic-like SIU message (v2.5, `\\r` segments) with the patient's mobile number in PID-13."""
    message_time = message_time or dt.datetime.now(dt.UTC)
    start = start or dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    segments = [
        f"MSH|^~\\&|EPIC|RIVERSIDE|CONNECTOR|TEAMS|{message_time:%Y%m%d%H%M%S}+0000||SIU^{event}|"
        f"{control_id or secrets.token_hex(6)}|P|2.5",
        f"SCH||{appointment_id}^EPIC|||||||30|min|^^30^{start:%Y%m%d%H%M%S}+0000",
        f"PID|1||MRN123^^^EPIC^MR||{patient}||19800101|F|||1 MAIN ST^^BOSTON^MA^02110||{phone}",
        f"AIS|1||VIDEO^Video visit|{start:%Y%m%d%H%M%S}+0000|||30|min",
    ]
    return ("\r".join(segments) + "\r").encode()
