"""Sender certificates and JWKS URLs: good ones are stored and shown, each bad one refused with its reason."""

from __future__ import annotations

import base64
import datetime
from collections.abc import Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from localworld.entra import EntraStandIn
from localworld.server import Request, Response, StandIn
from shared import bootstrap
from tests.configapi import ConfigApi

NOW = datetime.datetime.now(datetime.UTC)


def certificate(key=None, *, days: int = 365, start_days: int = -1) -> tuple[x509.Certificate, object]:
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "epic-interconnect.hospital.example")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW + datetime.timedelta(days=start_days))
        .not_valid_after(NOW + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return cert, key


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
def api(config_env: dict[str, str], entra: EntraStandIn) -> Iterator[ConfigApi]:
    client = ConfigApi(entra.admin_token())
    yield client
    client.close()


@pytest.fixture
def org_id(api: ConfigApi) -> str:
    return api.post("/api/config/organisations", {"name": "Mercy", "geo": "US", "display_name": "Mercy"}).json["id"]


def test_a_der_certificate_is_stored_and_replacing_it_is_audited(api: ConfigApi, org_id: str) -> None:
    cert, _ = certificate()
    path = f"/api/config/organisations/{org_id}/sender-keys/production"
    reply = api.put(path, {"certificate": b64(cert.public_bytes(serialization.Encoding.DER))})
    assert reply.status == 200, reply.body
    shown = reply.json["certificate"]
    assert shown["subject"] == "CN=epic-interconnect.hospital.example"
    assert shown["thumbprint_sha256"] == cert.fingerprint(hashes.SHA256()).hex().upper()
    keys = bootstrap.get_config_store().get_sender_keys(org_id, "production")
    assert keys.certificate_pem.startswith("-----BEGIN CERTIFICATE-----")
    assert keys.not_after == cert.not_valid_after_utc

    second, _ = certificate(ec.generate_private_key(ec.SECP384R1()))
    pem = second.public_bytes(serialization.Encoding.PEM)
    assert api.put(path, {"certificate": b64(pem)}).status == 200
    assert api.get(path).json["certificate"]["thumbprint_sha256"] == second.fingerprint(hashes.SHA256()).hex().upper()
    [entry, *_] = api.get(f"/api/config/organisations/{org_id}/audit").json["items"]
    assert entry["action"] == "sender_keys.saved"
    assert entry["details"]["previous_thumbprint"] == shown["thumbprint_sha256"]


def _bad_uploads() -> list[tuple[str, str]]:
    cert, key = certificate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    private_der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pfx = pkcs12.serialize_key_and_certificates(b"x", key, cert, None, serialization.BestAvailableEncryption(b"pw"))
    expired, _ = certificate(days=-1, start_days=-30)
    weak, _ = certificate(rsa.generate_private_key(public_exponent=65537, key_size=1024))  # noqa: S505 - the weak key under test
    koblitz, _ = certificate(ec.generate_private_key(ec.SECP256K1()))
    der = serialization.Encoding.DER
    return [
        (b64(private_pem), "private key"),
        (b64(private_der), "private key"),
        (b64(pfx), "PFX"),
        ("not base64 at all!", "not Base64"),
        (b64(b"garbage bytes that are not a certificate"), "not an X.509 certificate"),
        (b64(expired.public_bytes(der)), "expired"),
        (b64(weak.public_bytes(der)), "1024 bits"),
        (b64(koblitz.public_bytes(der)), "secp256k1"),
    ]


@pytest.mark.parametrize(("upload", "reason"), _bad_uploads())
def test_bad_certificates_are_refused_with_the_reason(api: ConfigApi, org_id: str, upload: str, reason: str) -> None:
    path = f"/api/config/organisations/{org_id}/sender-keys/test"
    reply = api.put(path, {"certificate": upload})
    assert reply.status == 400
    assert reason in reply.json["detail"]
    assert api.get(path).status == 404  # nothing was stored


def test_a_jwks_url_is_fetched_once_when_saved(api: ConfigApi, org_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    import jwt

    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)

    def epic(request: Request) -> Response:
        if request.path == "/jwks/good":
            return Response.json({"keys": [{**jwk, "kid": "k1"}]})
        if request.path == "/jwks/empty":
            return Response.json({"keys": []})
        return Response(404)

    path = f"/api/config/organisations/{org_id}/sender-keys/production"
    with StandIn(epic, tls=True) as server:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", server.ca_file)
        assert "at least one RSA or EC key" in api.put(path, {"jwks_url": f"{server.url}/jwks/empty"}).json["detail"]
        assert "could not be fetched" in api.put(path, {"jwks_url": f"{server.url}/jwks/gone"}).json["detail"]
        assert "https" in api.put(path, {"jwks_url": "http://epic.example/jwks"}).json["detail"]
        assert api.get(path).status == 404
        saved = api.put(path, {"jwks_url": f"{server.url}/jwks/good"})
        assert saved.status == 200, saved.body
        assert len([r for r in server.requests if r.path == "/jwks/good"]) == 1
    keys = bootstrap.get_config_store().get_sender_keys(org_id, "production")
    assert keys.jwks_url == f"{server.url}/jwks/good"
    assert keys.certificate_pem is None


def test_an_unknown_environment_is_refused(api: ConfigApi, org_id: str) -> None:
    reply = api.put(f"/api/config/organisations/{org_id}/sender-keys/staging", {"jwks_url": "https://x.example/j"})
    assert reply.status == 400
    assert "'test' or 'production'" in reply.json["detail"]
