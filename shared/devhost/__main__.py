"""`python -m shared.devhost`: run function_app.py locally, with Azurite if asked.

Settings come from local.settings.json's Values (environment variables win, as with Core Tools).
With --azurite, Azurite is started with every account the storage connection strings name.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

from shared.devhost.azurite import REPO_ROOT, Account, Azurite
from shared.devhost.devkeys import ensure_development_keys
from shared.errors import SettingsError
from shared.settings import SETTINGS, load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.devhost", description=__doc__)
    parser.add_argument("--app", default="function_app:app", help="module:attribute of the FunctionApp")
    parser.add_argument("--port", type=int, default=7071)
    parser.add_argument("--settings", type=Path, default=REPO_ROOT / "local.settings.json")
    parser.add_argument("--azurite", action="store_true", help="start Azurite for the storage settings")
    parser.add_argument("--azurite-only", action="store_true", help="start Azurite only (for `func start`)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    load_local_settings(args.settings)
    for created in ensure_development_keys(os.environ):
        print(f"Created a development key at {created} (git-ignored).")
    try:
        load_settings(os.environ)
    except SettingsError as error:
        print(f"Cannot start: {error.message}", file=sys.stderr)
        return 2

    azurite = azurite_for_settings(os.environ) if args.azurite or args.azurite_only else None
    if azurite:
        azurite.start()
        print(f"Azurite: accounts {', '.join(a.name for a in azurite.accounts)} on ports {azurite.ports}", flush=True)

    host = None
    if not args.azurite_only:
        from shared.devhost.host import DevHost, load_app

        host = DevHost(load_app(args.app), port=args.port)
        host.start()
        print("Serving:\n  " + "\n  ".join(host.describe()), flush=True)

    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with contextlib.suppress(KeyboardInterrupt):
        stopped.wait()
    if host:
        host.stop()
    if azurite:
        azurite.stop()
    return 0


def load_local_settings(path: Path) -> None:
    """Put local.settings.json's Values into the environment without overriding what is set."""
    if not path.exists():
        print(f"No {path.name}: using the environment only (copy local.settings.sample.json to start).")
        return
    values = json.loads(path.read_text(encoding="utf-8")).get("Values", {})
    for name, value in values.items():
        os.environ.setdefault(name, str(value))
    print(f"Settings: {path}")


def azurite_for_settings(env: dict[str, str] | os._Environ[str]) -> Azurite:
    """An Azurite serving every account named by the storage connection strings, on their ports."""
    accounts: dict[str, Account] = {}
    ports: dict[str, int] = {}
    names = [spec.name for spec in SETTINGS if spec.connection] + ["AzureWebJobsStorage"]
    for name in names:
        parts = dict(p.split("=", 1) for p in env.get(name, "").split(";") if "=" in p)
        if "AccountName" not in parts:
            continue
        accounts[parts["AccountName"]] = Account(parts["AccountName"], parts["AccountKey"])
        for service in ("blob", "queue", "table"):
            endpoint = parts.get(f"{service.capitalize()}Endpoint")
            if endpoint:
                ports[service] = urlsplit(endpoint).port or 0
    return Azurite(list(accounts.values()), ports=ports or None, location=REPO_ROOT / ".azurite")


if __name__ == "__main__":
    sys.exit(main())
