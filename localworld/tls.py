"""A self-signed certificate for 127.0.0.1, made with `cryptography`, for HTTPS stand-ins."""

from __future__ import annotations

import datetime
import ipaddress
import secrets
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """Write cert.pem and key.pem for CN/SAN 127.0.0.1 into `directory`; returns their paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    # A subject of its own: several stand-ins' certificates in one CA bundle must not shadow each other
    # (OpenSSL looks issuers up by name).
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, secrets.token_hex(8)),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


def write_ca_bundle(path: Path, *cert_files: str | None) -> Path:
    """One CA file trusting each stand-in's certificate (requests and httpx read a single bundle file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(Path(f).read_text() for f in cert_files if f))
    return path
