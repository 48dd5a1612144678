"""Fixtures shared by every test layer: Azurite with one account per storage setting, and app settings."""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from localworld.entra import EntraStandIn
from localworld.epic import CLIENT_ID as EPIC_CLIENT_ID
from localworld.epic import EpicStandIn
from shared import bootstrap
from shared.adapters.storage import StorageAccount
from shared.devhost.azurite import Azurite
from shared.settings import StorageConnection
from tests.browser import chromium  # noqa: F401 - the fixture every browser test asks for

SPARE_ACCOUNTS = [f"spare{number}" for number in range(56)]
"""Empty accounts handed out one per test, for tests that need a geography's account to themselves
(the timer's cursor is per account)."""
_spares = iter(SPARE_ACCOUNTS)


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """One in-memory Azurite for the session, with the control account and one account per geography."""
    log_path: Path = tmp_path_factory.mktemp("azurite") / "azurite.log"
    emulator = Azurite.for_every_geo(extra_accounts=SPARE_ACCOUNTS, log_path=log_path)
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def storage_env(azurite: Azurite) -> dict[str, str]:
    """App settings that point the connector at the session's Azurite."""
    return {
        **azurite.storage_settings("http://127.0.0.1:7071"),
        "OPT_OUT_HASH_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
    }


@pytest.fixture
def app_env(storage_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The process environment set to `storage_env` (tests may add to it), with wiring caches reset."""
    for name in list(os.environ):
        if name.startswith(("GEO", "CONTROL_STORAGE")):
            monkeypatch.delenv(name)
    for name, value in storage_env.items():
        monkeypatch.setenv(name, value)
    bootstrap.reset()
    yield dict(storage_env)
    bootstrap.reset()


@pytest.fixture
def graph_notification_key(tmp_path: Path) -> str:
    """GRAPH_NOTIFICATION_KEY for tests with Teams through Graph: a development key-and-certificate PEM file."""
    from shared.devhost.devkeys import ensure_development_key

    path = tmp_path / "graph-notification-key.pem"
    ensure_development_key({"GRAPH_NOTIFICATION_KEY": str(path)}, "GRAPH_NOTIFICATION_KEY", with_certificate=True)
    return str(path)


@pytest.fixture(scope="session")
def entra() -> Iterator[EntraStandIn]:
    """Entra ID's OpenID configuration and signing keys on 127.0.0.1, for the configuration API."""
    with EntraStandIn() as stand_in:
        yield stand_in


@pytest.fixture
def config_env(app_env: dict[str, str], entra: EntraStandIn, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """`app_env` plus the settings of the configuration API (Entra stand-in, sandbox numbers, a secret)."""
    env = {
        **entra.env(),
        "PHONE_NUMBER_PROVIDER": "sandbox",
        "CONTEXT_TOKEN_SECRET": base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    bootstrap.reset()
    return {**app_env, **env}


@pytest.fixture
def epic(config_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[EpicStandIn]:
    """Epic's SMART endpoints over HTTPS, trusted by our HTTP client; our Epic key as a PEM file."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = tmp_path / "epic-key.pem"
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    with EpicStandIn() as stand_in:
        monkeypatch.setenv("EPIC_CLIENT_ID", EPIC_CLIENT_ID)
        monkeypatch.setenv("EPIC_PRIVATE_KEY", str(key_file))
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", stand_in.ca_file or "")
        bootstrap.reset()
        yield stand_in


@pytest.fixture
def spare_account(azurite: Azurite) -> StorageAccount:
    """A storage account no other test has touched, shaped like a geography's."""
    name = next(_spares, None)
    if name is None:
        pytest.fail("Out of spare Azurite accounts: add more to SPARE_ACCOUNTS in tests/conftest.py")
    return StorageAccount(StorageConnection(setting=f"SPARE_{name}", connection_string=azurite.connection_string(name)))
