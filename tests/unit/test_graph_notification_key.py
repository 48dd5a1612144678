"""The call-event encryption key setting: PEM with or without its certificate, refused clearly otherwise,
and its value never shown."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.adapters.graph_notifications import load_notification_certificate, self_signed_certificate
from shared.devhost.devkeys import ensure_development_keys
from shared.errors import SettingsError

SETTING = "GRAPH_NOTIFICATION_KEY"


def pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def test_a_development_key_file_holds_key_and_certificate_and_keeps_its_id(tmp_path: Path) -> None:
    path = tmp_path / ".devkeys" / "graph.pem"
    assert ensure_development_keys({SETTING: str(path)}) == [path]
    assert ensure_development_keys({SETTING: str(path)}) == []
    loaded = load_notification_certificate(str(path), SETTING)
    again = load_notification_certificate(path.read_text(), SETTING)
    assert loaded.certificate_id == again.certificate_id
    assert len(loaded.certificate_id) <= 128
    certificate = x509.load_der_x509_certificate(base64.b64decode(loaded.certificate_b64))
    assert certificate == x509.load_pem_x509_certificate(path.read_bytes())


def test_a_key_alone_gets_a_self_signed_certificate_with_the_same_id() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    alone = load_notification_certificate(pem(key).decode(), SETTING)
    with_cert = pem(key) + self_signed_certificate(key).public_bytes(serialization.Encoding.PEM)
    assert load_notification_certificate(with_cert.decode(), SETTING).certificate_id == alone.certificate_id
    assert "PRIVATE" not in repr(alone)


def test_unusable_values_are_refused_without_showing_them() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - refused on purpose
    key, other = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    mismatched = pem(key) + self_signed_certificate(other).public_bytes(serialization.Encoding.PEM)
    for value in ("/no/such/file.pem", "-----BEGIN PRIVATE KEY-----\nnope", pem(small).decode(), mismatched.decode()):
        with pytest.raises(SettingsError) as raised:
            load_notification_certificate(value, SETTING)
        assert SETTING in raised.value.message
        assert "nope" not in raised.value.message
        assert "file.pem" not in raised.value.message
