"""Reading Microsoft Graph's rich change notifications: our encryption certificate, the decryption of each
item's `encryptedContent`, and the `validationTokens` that prove Graph sent a delivery.

Everything here follows Graph's "Set up change notifications that include resource data"
(microsoftgraph/microsoft-graph-docs-contrib, concepts/change-notifications-with-resource-data.md):

* The subscription carries `encryptionCertificate` (Base64 DER of an X.509 certificate; only its RSA public
  key of 2,048-4,096 bits is used, the issuer is not checked, so self-signed is fine) and our own
  `encryptionCertificateId` (up to 128 characters), echoed in every item to pick the key.
* `encryptedContent.dataKey`: a fresh symmetric key per item, RSA-OAEP encrypted (SHA-1, the .NET
  `fOAEP: true` / Java `OAEPWithSHA1AndMGF1Padding` of the doc's samples). `dataSignature`: Base64
  HMAC-SHA256 of the Base64-decoded `data` under that key, checked before decrypting. `data`: AES-CBC with
  PKCS7 padding, the IV being the key's first 16 bytes; the plaintext is the resource's JSON.
* `validationTokens`: one JWT per app and tenant with items in the delivery, signed with the Microsoft
  identity platform's keys (`{authority}/common/discovery/keys`), `iss` `https://sts.windows.net/{tid}/`,
  `aud` our app id, and `appid` 0bf30f3b-4a52-48df-9a82-234910c4a086 (the change-notification publisher).

The key setting (GRAPH_NOTIFICATION_KEY) is PEM text (in Azure a Key Vault reference to a certificate's
PEM secret, private key and certificate) or a PEM file path; without a certificate in it, a self-signed
one is made from the key (Graph only uses the public key). `cryptography` and PyJWT load on first use.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.adapters.jwks import JwksCache
from shared.errors import InvalidRequestError, NotAuthorisedError, SettingsError

GRAPH_NOTIFICATION_PUBLISHER = "0bf30f3b-4a52-48df-9a82-234910c4a086"
"""The `appid` of every validation token Graph's change-notification service issues."""
TOKEN_ALGORITHMS = ["RS256"]
LEEWAY_SECONDS = 300
MAX_CONTENT_CHARS = 256 * 1024


@dataclass(frozen=True)
class NotificationCertificate:
    """Our encryption certificate: what a subscription sends (id, Base64 DER) and the key that decrypts."""

    certificate_id: str
    certificate_b64: str
    private_key: Any  # cryptography's RSAPrivateKey

    def __repr__(self) -> str:
        return f"NotificationCertificate({self.certificate_id!r})"


def load_notification_certificate(value: str, setting: str) -> NotificationCertificate:
    """The certificate of PEM text or a PEM file path. Raises SettingsError naming `setting` (never the value)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    text = value.strip()
    if not text.startswith("-----BEGIN"):
        path = Path(text)
        if not text or not path.is_file():
            raise SettingsError(f"Setting {setting} is neither PEM text nor the path of a PEM file.")
        text = path.read_text(encoding="ascii")
    data = text.encode("ascii", errors="replace")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise SettingsError(f"Setting {setting} holds no unencrypted PEM private key.") from None
    if not isinstance(key, rsa.RSAPrivateKey) or not 2048 <= key.key_size <= 4096:
        raise SettingsError(f"Setting {setting} must hold an RSA key of 2,048 to 4,096 bits (Graph's rule).")
    try:
        certificate = x509.load_pem_x509_certificate(data)
    except ValueError:
        certificate = self_signed_certificate(key)
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if (
        certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        != public
    ):
        raise SettingsError(f"Setting {setting}: its certificate is not the certificate of its private key.")
    der = certificate.public_bytes(serialization.Encoding.DER)
    # Named by the public key, so a certificate re-made from the same key keeps its id.
    certificate_id = "graph-notifications-" + hashlib.sha256(public).hexdigest()[:32]
    return NotificationCertificate(certificate_id, base64.b64encode(der).decode(), key)


def self_signed_certificate(
    key: Any, common_name: str = "Teams EHR connector change notifications", valid_days: int = 3650
) -> Any:
    """A self-signed X.509 certificate of `key`, by default valid for ten years (Graph checks neither issuer
    nor dates). The local world signs its interface engine's certificate with it too."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=valid_days))
        .sign(key, hashes.SHA256())
    )


def decrypt_content(content: object, certificate: NotificationCertificate) -> dict[str, Any]:
    """The resource of one item's `encryptedContent`.

    Raises InvalidRequestError (not the shape Graph sends), NotAuthorisedError (another certificate, a key
    that does not decrypt, or a dataSignature that does not match: tampered or forged).
    """
    from cryptography.hazmat.primitives import hashes, padding
    from cryptography.hazmat.primitives.asymmetric import padding as asymmetric
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    if not isinstance(content, Mapping):
        raise InvalidRequestError("A rich notification needs encryptedContent.")
    if content.get("encryptionCertificateId") != certificate.certificate_id:
        raise NotAuthorisedError("A notification was encrypted for another certificate.")
    data, signature, data_key = (_b64(content, name) for name in ("data", "dataSignature", "dataKey"))
    try:
        key = certificate.private_key.decrypt(
            data_key,
            asymmetric.OAEP(mgf=asymmetric.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None),  # noqa: S303 - Graph's OAEP
        )
    except ValueError:
        raise NotAuthorisedError("A notification's dataKey does not decrypt with our key.") from None
    if len(key) not in (16, 24, 32):
        raise NotAuthorisedError("A notification's dataKey is not an AES key.")
    if not hmac.compare_digest(hmac.new(key, data, hashlib.sha256).digest(), signature):
        raise NotAuthorisedError("A notification's dataSignature does not match its data.")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        plain = unpadder.update(decryptor.update(data) + decryptor.finalize()) + unpadder.finalize()
        resource = json.loads(plain.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequestError("A notification's data is not encrypted JSON.") from None
    if not isinstance(resource, dict):
        raise InvalidRequestError("A notification's data is not a JSON object.")
    return resource


def _b64(content: Mapping[str, Any], name: str) -> bytes:
    value = content.get(name)
    if not isinstance(value, str) or not value or len(value) > MAX_CONTENT_CHARS:
        raise InvalidRequestError(f"encryptedContent.{name} is missing or too long.")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequestError(f"encryptedContent.{name} is not Base64.") from None


class ValidationTokens:
    """Checks the validationTokens of a delivery against the Microsoft identity platform's keys."""

    def __init__(self, *, keys_url: str, app_id: str) -> None:
        self._keys_url = keys_url
        self._app_id = app_id
        self._keys = JwksCache(what="Microsoft identity platform signing keys")

    def trusted_tenants(self, tokens: Iterable[object]) -> frozenset[str]:
        """The tenants (lower case) for which a delivery carries a valid token issued by Graph for our app.

        A token that fails any check is ignored (its tenant's items are then dropped). Raises UpstreamError
        (the keys cannot be fetched: the delivery should be retried).
        """
        import jwt

        tenants = set()
        for token in tokens:
            if not isinstance(token, str) or len(token) > 16 * 1024:
                continue
            try:
                header = jwt.get_unverified_header(token)
                tenant = str(jwt.decode(token, options={"verify_signature": False}).get("tid", "")).lower()
            except jwt.PyJWTError:
                continue
            for key in self._keys.keys(self._keys_url, header.get("kid")):
                try:
                    claims = jwt.decode(
                        token,
                        key=key,
                        algorithms=TOKEN_ALGORITHMS,
                        audience=self._app_id,
                        issuer=f"https://sts.windows.net/{tenant}/",
                        leeway=LEEWAY_SECONDS,
                        options={"require": ["exp", "aud", "iss", "tid", "appid"]},
                    )
                except jwt.PyJWTError:
                    continue
                if claims.get("appid") == GRAPH_NOTIFICATION_PUBLISHER:
                    tenants.add(tenant)
        return frozenset(tenants)


class GraphNotificationReader:
    """`NotificationReader` for Graph: validation tokens and decryption with our certificate."""

    def __init__(self, certificate: NotificationCertificate, tokens: ValidationTokens) -> None:
        self._certificate = certificate
        self._tokens = tokens

    def trusted_tenants(self, tokens: Iterable[object]) -> frozenset[str]:
        return self._tokens.trusted_tenants(tokens)

    def decrypt(self, content: object) -> dict[str, Any]:
        return decrypt_content(content, self._certificate)
