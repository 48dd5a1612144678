"""Accept or refuse an uploaded sender certificate (Base64 `.cer`, DER or PEM, public key only).

The HL7 ingress verifies senders' JWTs with the public key in it, so we refuse anything that is
not exactly a currently valid certificate with a strong key, each time saying why. `cryptography`
is imported on first use: it would cost every cold start for a call admins make rarely.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from shared.errors import InvalidRequestError

if TYPE_CHECKING:
    from cryptography import x509

MIN_RSA_BITS = 2048
SUPPORTED_CURVES = ("secp256r1", "secp384r1", "secp521r1")
"""The curves of ES256/384/512, which JWT verification supports."""
MAX_CERTIFICATE_BYTES = 16 * 1024


@dataclass(frozen=True)
class ParsedCertificate:
    pem: str
    subject: str
    thumbprint_sha256: str
    not_before: datetime
    not_after: datetime


def parse_certificate(encoded: object, now: datetime) -> ParsedCertificate:
    """The certificate in a Base64 `.cer` upload. Raises InvalidRequestError with the reason."""
    from cryptography.hazmat.primitives import serialization

    if not isinstance(encoded, str) or not encoded.strip():
        raise InvalidRequestError("certificate must be the Base64 text of a .cer file.")
    try:
        data = base64.b64decode("".join(encoded.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequestError("certificate is not Base64.") from None
    if len(data) > MAX_CERTIFICATE_BYTES:
        raise InvalidRequestError("certificate is larger than a certificate can be.")
    certificate = _load(data)
    not_before, not_after = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    if not_after <= now:
        raise InvalidRequestError(f"The certificate expired on {not_after.date().isoformat()}.")
    if not_before > now:
        raise InvalidRequestError(f"The certificate is not valid before {not_before.isoformat()}.")
    _check_key(certificate.public_key())
    der = certificate.public_bytes(serialization.Encoding.DER)
    return ParsedCertificate(
        pem=certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        subject=certificate.subject.rfc4514_string(),
        thumbprint_sha256=hashlib.sha256(der).hexdigest().upper(),
        not_before=not_before,
        not_after=not_after,
    )


def _load(data: bytes) -> x509.Certificate:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    if data.lstrip().startswith(b"-----BEGIN"):
        if b"PRIVATE KEY" in data:
            raise InvalidRequestError("The upload contains a private key; upload the public certificate only.")
        try:
            return x509.load_pem_x509_certificate(data)
        except ValueError:
            raise InvalidRequestError("The PEM upload is not an X.509 certificate.") from None
    try:
        return x509.load_der_x509_certificate(data)
    except ValueError:
        pass
    if _looks_like_pfx(data):
        raise InvalidRequestError("This is a PFX/PKCS#12 file (it holds a private key); upload the .cer only.")
    try:
        serialization.load_der_private_key(data, password=None)
    except (ValueError, TypeError):
        raise InvalidRequestError("The upload is not an X.509 certificate (DER or PEM).") from None
    raise InvalidRequestError("The upload is a private key; upload the public certificate only.")


def _looks_like_pfx(data: bytes) -> bool:
    """PKCS#12 is a DER SEQUENCE whose first element is INTEGER 3 (RFC 7292 version)."""
    if len(data) < 8 or data[0] != 0x30:
        return False
    length_bytes = data[1] - 0x80 if data[1] & 0x80 else 0
    start = 2 + length_bytes
    return data[start : start + 3] == b"\x02\x01\x03"


def _check_key(key: object) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise InvalidRequestError(f"The RSA key has {key.key_size} bits; at least {MIN_RSA_BITS} are required.")
        return
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in SUPPORTED_CURVES:
            raise InvalidRequestError(
                f"The key's curve {key.curve.name} is not supported; use one of {', '.join(SUPPORTED_CURVES)}."
            )
        return
    raise InvalidRequestError("The certificate's key type is not supported; use RSA (2048+ bits) or EC P-256/384/521.")
