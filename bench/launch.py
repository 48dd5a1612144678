"""Provider launch: our server-side time from Epic's callback to the redirect into the meeting.

Runs the app on the local host against Azurite and HTTPS stand-ins for Epic (token endpoint, FHIR
Appointment) and Graph (Entra client credentials, createOrGet, PATCH). Each sample is the wall time of
`GET /api/launch/callback` minus the time the stand-ins spent answering during it, for
* first launch: a visit's first provider launch (Epic token exchange, Appointment read, meeting map
  miss, Graph createOrGet and PATCH, map and visit log writes), and
* repeat launch: another launch of the same visit (token exchange, Appointment read, map hit).
The provider is already mapped to a Microsoft 365 user (the one-time sign-in is not part of either).
Prints p50 and p99 in milliseconds, and the stand-ins' share.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=40, help="visits launched (each: one first and one repeat)")
    args = parser.parse_args()

    import requests
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    import function_app
    from localworld.entra_client_credentials import EntraClientCredentials
    from localworld.epic import CLIENT_ID, EpicStandIn
    from localworld.epic_fhir import Visit
    from localworld.graph import GraphStandIn
    from shared import bootstrap
    from shared.adapters.user_map import MappedUser, UserMap
    from shared.devhost.azurite import Account, Azurite
    from shared.devhost.devkeys import ensure_development_keys
    from shared.devhost.host import DevHost
    from shared.domain.launch import ehr_user_key
    from shared.settings import KNOWN_GEOS, geo_storage_setting
    from tests.launch_support import Browser, ca_bundle, launch_url, seed_endpoint

    work = Path(tempfile.mkdtemp(prefix="bench-launch-"))
    names = ["control", *(f"geo{geo.lower()}" for geo in KNOWN_GEOS)]
    accounts = [Account(n, base64.b64encode(secrets.token_bytes(32)).decode()) for n in names]
    azurite = Azurite(accounts, log_path=work / "azurite.log")
    azurite.start()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = work / "epic.pem"
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    epic = EpicStandIn()
    graph = GraphStandIn(EntraClientCredentials("tenant-1", "app-1", "secret-1"))
    with epic, graph.server:
        env = {
            "GEOS": ",".join(KNOWN_GEOS),
            "PUBLIC_BASE_URL": "http://127.0.0.1:7071",
            "CONTROL_STORAGE": azurite.connection_string("control"),
            **{geo_storage_setting(g): azurite.connection_string(f"geo{g.lower()}") for g in KNOWN_GEOS},
            "EPIC_CLIENT_ID": CLIENT_ID,
            "EPIC_PRIVATE_KEY": str(key_file),
            "MEETING_PROVIDER": "graph",
            "GRAPH_BASE_URL": f"{graph.server.url}/v1.0",
            "GRAPH_AUTHORITY_HOST": graph.server.url,
            "GRAPH_TENANT_ID": "tenant-1",
            "GRAPH_CLIENT_ID": "app-1",
            "GRAPH_CLIENT_SECRET": "secret-1",
            "GRAPH_NOTIFICATION_KEY": str(work / "graph-notification-key.pem"),
            "SSL_CERT_FILE": graph.server.ca_file or "",
            "REQUESTS_CA_BUNDLE": ca_bundle(epic.ca_file, graph.server.ca_file),
        }
        os.environ.update(env)
        ensure_development_keys(os.environ)
        bootstrap.reset()
        epic.trusted_jwks = {"keys": [k.public_jwk() for k in bootstrap.get_signing_keys()]}
        endpoint = seed_endpoint(epic.fhir_base_url)
        fhir_user = "Practitioner/bench"  # the provider of every visit below
        UserMap(bootstrap.get_storage()).upsert(
            endpoint.geo,
            ehr_user_key(endpoint.org_id, fhir_user),
            MappedUser("8b081ef6-4792-4def-b2c9-c363a1bf41d5", "dr.bench@hospital.example"),
            datetime.now(UTC),
        )
        host = DevHost(function_app.app, port=0, env=dict(os.environ), timers=False)
        host.start()
        session = requests.Session()
        browser = Browser(host, env["REQUESTS_CA_BUNDLE"], session)

        def callback_ms(visit: Visit) -> tuple[float, float]:
            """(our ms, stand-ins' ms) of one callback."""
            launch = epic.launch_visit(visit, "provider")
            started = browser.get(launch_url("/api/launch/provider", epic, launch, sessionId=visit.csn))
            callback = browser.get(started.headers["Location"]).headers["Location"]
            busy = epic.busy_seconds + graph.server.busy_seconds
            begin = time.perf_counter()
            answer = browser.get(callback)
            wall = time.perf_counter() - begin
            stand_ins = epic.busy_seconds + graph.server.busy_seconds - busy
            if answer.status_code != 302 or urlsplit(answer.headers["Location"]).hostname != "teams.microsoft.com":
                raise SystemExit(f"launch failed: {answer.status_code}")
            return (wall - stand_ins) * 1000, stand_ins * 1000

        try:
            start = datetime.now(UTC) + timedelta(hours=1)
            end = start + timedelta(minutes=20)
            warm_up = epic.add_visit("0", patient_id="bench-patient", provider_id="bench", start=start, end=end)
            callback_ms(warm_up)  # not counted: first-call imports, TLS sessions, Graph's app token
            first, repeat, first_stand_ins, repeat_stand_ins = [], [], [], []
            for run in range(args.runs):
                visit = epic.add_visit(
                    f"{100000 + run}", patient_id="bench-patient", provider_id="bench", start=start, end=end
                )
                ours, theirs = callback_ms(visit)
                first.append(ours)
                first_stand_ins.append(theirs)
                ours, theirs = callback_ms(visit)
                repeat.append(ours)
                repeat_stand_ins.append(theirs)
        finally:
            host.stop()
            azurite.stop()
    print(f"Provider launch, callback to redirect, server side (stand-ins subtracted), {args.runs} visits:")
    for name, samples, stand_ins in (
        ("first launch ", first, first_stand_ins),
        ("repeat launch", repeat, repeat_stand_ins),
    ):
        print(
            f"  {name}: p50 {percentile(samples, 50):6.1f} ms   p99 {percentile(samples, 99):6.1f} ms"
            f"   (stand-ins' own time p50 {statistics.median(stand_ins):5.1f} ms)"
        )


def percentile(samples: list[float], p: int) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


if __name__ == "__main__":
    main()
