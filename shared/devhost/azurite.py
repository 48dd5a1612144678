"""Start and stop Azurite (the npm Azure Storage emulator) with one account per storage setting."""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shared.settings import DEFAULT_TIMER_SCHEDULE, KNOWN_GEOS, geo_storage_setting

REPO_ROOT = Path(__file__).resolve().parents[2]
AZURITE_BIN = REPO_ROOT / "node_modules" / ".bin" / "azurite"
SERVICES = ("blob", "queue", "table")
CONTROL_ACCOUNT = "control"


def geo_account(geo: str) -> str:
    """The emulated account name of a geography's storage, e.g. `geoeu`."""
    return f"geo{geo.lower()}"


@dataclass(frozen=True)
class Account:
    name: str
    key: str  # Base64, as Azurite and the SDKs expect


class Azurite:
    """One Azurite process serving several accounts on path-style endpoints of 127.0.0.1."""

    def __init__(
        self,
        accounts: list[Account],
        *,
        ports: dict[str, int] | None = None,
        location: Path | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.accounts = accounts
        self.ports = ports or {service: free_port() for service in SERVICES}
        self.location = location
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @classmethod
    def for_every_geo(cls, *, extra_accounts: Sequence[str] = (), log_path: Path | None = None) -> Azurite:
        """An in-memory Azurite with the control account, one account per known geography and `extra_accounts`,
        random keys."""
        names = [CONTROL_ACCOUNT, *(geo_account(geo) for geo in KNOWN_GEOS), *extra_accounts]
        accounts = [Account(name, base64.b64encode(secrets.token_bytes(32)).decode()) for name in names]
        return cls(accounts, log_path=log_path)

    def storage_settings(self, public_base_url: str) -> dict[str, str]:
        """The app settings that point the connector at this Azurite (as `for_every_geo` made it)."""
        settings = {
            "GEOS": ",".join(KNOWN_GEOS),
            "PUBLIC_BASE_URL": public_base_url,
            "TIMER_SCHEDULE": DEFAULT_TIMER_SCHEDULE,
            "CONTROL_STORAGE": self.connection_string(CONTROL_ACCOUNT),
            "AzureWebJobsStorage": self.connection_string(CONTROL_ACCOUNT),
        }
        for geo in KNOWN_GEOS:
            settings[geo_storage_setting(geo)] = self.connection_string(geo_account(geo))
        return settings

    def start(self, timeout: float = 30.0) -> None:
        """Start Azurite and wait until every service accepts connections."""
        binary = shutil.which("azurite", path=str(AZURITE_BIN.parent)) or shutil.which("azurite")
        if binary is None:
            raise RuntimeError("Azurite is not installed: run `npm ci` in the repository root (see README.md).")
        args = self.command_line(binary)
        if self.location is not None:
            self.location.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "AZURITE_ACCOUNTS": ";".join(f"{a.name}:{a.key}" for a in self.accounts)}
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self._process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        for port in self.ports.values():
            while not _accepts(port):
                if self._process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"Azurite did not start (port {port}); see its log.")
                time.sleep(0.1)

    def command_line(self, binary: str) -> list[str]:
        """How Azurite is started: loopback ports, no telemetry sent to Microsoft, memory or `location`."""
        args = [binary, "--skipApiVersionCheck", "--loose", "--disableProductStyleUrl", "--disableTelemetry"]
        for service in SERVICES:
            args += [f"--{service}Host", "127.0.0.1", f"--{service}Port", str(self.ports[service])]
        return args + (["--inMemoryPersistence"] if self.location is None else ["--location", str(self.location)])

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._process = None

    def connection_string(self, account_name: str) -> str:
        """A path-style connection string for one account, as the settings module reads it."""
        account = next(a for a in self.accounts if a.name == account_name)
        endpoints = ";".join(
            f"{service.capitalize()}Endpoint=http://127.0.0.1:{self.ports[service]}/{account.name}"
            for service in SERVICES
        )
        return f"DefaultEndpointsProtocol=http;AccountName={account.name};AccountKey={account.key};{endpoints}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0
