"""Development keys for local runs, created on first start (never committed): the Epic private key, and
the key and self-signed certificate that Graph encrypts Teams call events for."""

from __future__ import annotations

import os
from pathlib import Path

DEVELOPMENT_KEYS = {"EPIC_PRIVATE_KEY": False, "GRAPH_NOTIFICATION_KEY": True}
"""Setting -> whether its PEM file also holds a certificate (as a Key Vault certificate's PEM secret does)."""


def ensure_development_key(
    env: os._Environ[str] | dict[str, str], setting: str = "EPIC_PRIVATE_KEY", *, with_certificate: bool = False
) -> Path | None:
    """Create the PEM file `setting` names if it is a missing path; returns the path created."""
    value = env.get(setting, "").strip()
    if not value or value.startswith("-----BEGIN"):
        return None
    path = Path(value)
    return path if ensure_private_key(path, with_certificate=with_certificate) else None


def ensure_development_keys(env: os._Environ[str] | dict[str, str]) -> list[Path]:
    """Every development key the settings name as a missing file, created; returns the paths created."""
    created = (ensure_development_key(env, name, with_certificate=cert) for name, cert in DEVELOPMENT_KEYS.items())
    return [path for path in created if path is not None]


def ensure_private_key(path: Path, *, with_certificate: bool = False) -> bool:
    """Write a new RSA private key (PKCS#8 PEM, owner-only; with `with_certificate` followed by a self-signed
    certificate of it) to `path` unless it exists; True when written."""
    if path.exists():
        return False
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    if with_certificate:
        from shared.adapters.graph_notifications import self_signed_certificate

        pem += self_signed_certificate(key).public_bytes(serialization.Encoding.PEM)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pem)
    path.chmod(0o600)
    return True
