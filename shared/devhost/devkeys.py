"""A development Epic private key for local runs, created on first start (never committed)."""

from __future__ import annotations

import os
from pathlib import Path


def ensure_development_key(env: os._Environ[str] | dict[str, str]) -> Path | None:
    """Create the PEM file EPIC_PRIVATE_KEY names if it is a missing path; returns the path created."""
    value = env.get("EPIC_PRIVATE_KEY", "").strip()
    if not value or value.startswith("-----BEGIN"):
        return None
    path = Path(value)
    return path if ensure_private_key(path) else None


def ensure_private_key(path: Path) -> bool:
    """Write a new RSA private key (PKCS#8 PEM, owner-only) to `path` unless it exists; True when written."""
    if path.exists():
        return False
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    path.chmod(0o600)
    return True
