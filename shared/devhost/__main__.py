"""`python -m shared.devhost`: run function_app.py locally, with Azurite if asked.

Settings come from local.settings.json's Values (environment variables win, as with Core Tools).
With --azurite, Azurite is started with every account the storage connection strings name.
With --world, the local world (localworld/world.py) starts first, its settings win, and once the host
is up the demo organisation is seeded through the configuration API (found again on later runs).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from shared.devhost.azurite import REPO_ROOT, Account, Azurite
from shared.devhost.devkeys import ensure_development_keys
from shared.errors import SettingsError
from shared.local_settings import load_local_settings
from shared.settings import SETTINGS, load_settings

if TYPE_CHECKING:
    from localworld.world import LocalWorld


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.devhost", description=__doc__)
    parser.add_argument("--app", default="function_app:app", help="module:attribute of the FunctionApp")
    parser.add_argument("--port", type=int, default=7071)
    parser.add_argument("--settings", type=Path, default=REPO_ROOT / "local.settings.json")
    parser.add_argument("--azurite", action="store_true", help="start Azurite for the storage settings")
    parser.add_argument("--azurite-only", action="store_true", help="start Azurite only (for `func start`)")
    parser.add_argument("--world", action="store_true", help="start the local world and seed the demo organisation")
    parser.add_argument(
        "--world-port", type=int, default=7072, help="first of the local world's five ports (0: free ports)"
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    load_local_settings(args.settings)
    with contextlib.ExitStack() as running:
        world = running.enter_context(start_world(args.world_port)) if args.world and not args.azurite_only else None
        for created in ensure_development_keys(os.environ):
            print(f"Created a development key at {created} (git-ignored).")
        try:
            load_settings(os.environ)
        except SettingsError as error:
            print(f"Cannot start: {error.message}", file=sys.stderr)
            return 2

        if args.azurite or args.azurite_only:
            azurite = azurite_for_settings(os.environ)
            azurite.start()
            running.callback(azurite.stop)
            print(
                f"Azurite: accounts {', '.join(a.name for a in azurite.accounts)} on ports {azurite.ports}", flush=True
            )

        if not args.azurite_only:
            from shared.devhost.host import DevHost, load_app

            host = DevHost(load_app(args.app), port=args.port)
            host.start()
            running.callback(host.stop)
            print("Serving:\n  " + "\n  ".join(host.describe()), flush=True)
            if world:
                seed_world(world, host.base_url)
                print(
                    f"Ready in {time.monotonic() - started:.1f} s. Open the local Epic schedule to begin.", flush=True
                )

        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        with contextlib.suppress(KeyboardInterrupt):
            stopped.wait()
    return 0


def start_world(first_port: int) -> LocalWorld:
    """The local world on stable ports from `first_port` (0: free ones), not yet serving; its settings go into
    the environment, over local.settings.json's."""
    from localworld.world import LocalWorld, WorldPorts

    epic_key = os.environ.get("EPIC_PRIVATE_KEY", "").strip()
    world = LocalWorld(
        os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:7071"),
        outbox=Path(os.environ.get("SMS_OUTBOX_PATH") or "outbox/sms.jsonl"),
        # Beside the development Epic key (`.devkeys/`): the interface engine's key and the stand-ins' CA file.
        key_dir=Path(epic_key).parent if epic_key.endswith(".pem") else REPO_ROOT / ".devkeys",
        ports=WorldPorts.stable(first_port) if first_port else WorldPorts(),
        graph=os.environ.get("MEETING_PROVIDER", "").strip().lower() == "graph",
        acs=os.environ.get("SMS_PROVIDER", "").strip().lower() == "acs",
    )
    os.environ.update(world.settings())
    return world


def seed_world(world: LocalWorld, connector_url: str) -> None:
    """Seed the demo organisation and print the world's services, one line each."""
    from localworld.seed import SeedError

    try:
        seeded = world.seed(connector_url)
    except SeedError as error:
        print(f"The demo organisation could not be seeded: {error}", file=sys.stderr, flush=True)
        return
    verb = "Created" if seeded.created else "Found"
    print(f"{verb} the demo organisation {seeded.org_id}, endpoint {seeded.endpoint_id} (approved).", flush=True)
    print("Local world:\n  " + "\n  ".join(world.describe()), flush=True)


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
