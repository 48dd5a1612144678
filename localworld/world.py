"""The local world as one thing to start: sign-in, Epic, the phone, and Graph and ACS when the settings ask.

`make run` (`python -m shared.devhost --azurite --world`) and the walkthrough test both start a
`LocalWorld`; `settings()` is what the connector needs to use it through its ordinary settings, `seed()`
makes the demo organisation through the configuration API, and `describe()` is one line per service.
Epic is served over plain http (the connector runs with LOOPBACK_HTTP=true), so a browser opens its pages
without a certificate warning; Graph and ACS speak HTTPS, as their SDKs insist, with self-signed
certificates the connector trusts through REQUESTS_CA_BUNDLE (requests, azure-core) and SSL_CERT_FILE (httpx).
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from pathlib import Path

import requests

from localworld.entra import TENANT
from localworld.entra_client_credentials import EntraClientCredentials
from localworld.entra_signin import AUTHORIZE_PATH, EntraSignIn
from localworld.epic import CLIENT_ID as EPIC_CLIENT_ID
from localworld.epic_pages import Interface, LocalEpic
from localworld.event_grid import EventGridDelivery, ReportingAcsSms
from localworld.graph import GraphStandIn, post_to_webhook
from localworld.phone import PhoneStandIn
from localworld.seed import SEED_REDIRECT_URI, Seeded, seed, sender_key
from localworld.tls import write_ca_bundle
from shared.devhost.event_grid import WEBHOOK_PATH

DELIVERY_REPORT_FUNCTION = "receive_sms_delivery_report"
"""The connector's Event Grid trigger that ACS's SMS events are subscribed to (the Bicep's event subscription)."""
FIRST_PORT = 7072
"""`make run`'s stand-ins take ports from here on, in the order of `WorldPorts` (tests take free ports)."""
GRAPH_CLIENT_ID = "44444444-4444-4444-4444-444444444444"


@dataclass(frozen=True)
class WorldPorts:
    entra: int = 0
    epic: int = 0
    phone: int = 0
    graph: int = 0
    acs: int = 0

    @classmethod
    def stable(cls, first: int = FIRST_PORT) -> WorldPorts:
        return cls(first, first + 1, first + 2, first + 3, first + 4)


class LocalWorld:
    def __init__(
        self,
        public_base_url: str,
        *,
        outbox: Path,
        key_dir: Path,
        ports: WorldPorts = WorldPorts(),
        graph: bool = False,
        acs: bool = False,
    ) -> None:
        """`public_base_url`: the connector's PUBLIC_BASE_URL; `outbox`: its SMS_OUTBOX_PATH; `key_dir`: where
        the interface engine's key lives (`.devkeys/`); `graph`/`acs`: start those stand-ins too."""
        self.public_base_url = public_base_url.rstrip("/")
        self.key_dir = key_dir
        self.entra = EntraSignIn(
            port=ports.entra,
            redirect_uris=(
                f"{self.public_base_url}/api/launch/signin",
                f"{self.public_base_url}/api/portal/signin/callback",
                SEED_REDIRECT_URI,
            ),
        )
        self.epic = LocalEpic(self.public_base_url, port=ports.epic, tls=False)
        self._graph_secret = secrets.token_urlsafe(24)
        self.graph = (
            GraphStandIn(
                EntraClientCredentials(TENANT, GRAPH_CLIENT_ID, self._graph_secret),
                deliver=post_to_webhook,
                port=ports.graph,
            )
            if graph
            else None
        )
        self.acs = ReportingAcsSms(port=ports.acs) if acs else None
        if self.acs:
            self.acs.reports = EventGridDelivery(
                f"{self.public_base_url}{WEBHOOK_PATH}?functionName={DELIVERY_REPORT_FUNCTION}"
            )
        self.phone = PhoneStandIn(outbox=None if acs else outbox, acs=self.acs, port=ports.phone)
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> LocalWorld:
        for server in (self.entra, self.epic, self.phone, self.graph and self.graph.server, self.acs):
            if server is not None:
                self._stack.enter_context(server)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def settings(self) -> dict[str, str]:
        """The app settings that point the connector at this world (they win over local.settings.json's)."""
        settings = {
            **self.entra.env(),
            # No secret: the provider's sign-in is redeemed as a public client, with PKCE alone.
            "ENTRA_CLIENT_SECRET": "",
            "EPIC_CLIENT_ID": EPIC_CLIENT_ID,
            "LOOPBACK_HTTP": "true",
        }
        if self.graph:
            settings |= {
                "MEETING_PROVIDER": "graph",
                "GRAPH_BASE_URL": f"{self.graph.server.url}/v1.0",
                "GRAPH_AUTHORITY_HOST": self.graph.server.url,
                "GRAPH_TENANT_ID": TENANT,
                "GRAPH_CLIENT_ID": GRAPH_CLIENT_ID,
                "GRAPH_CLIENT_SECRET": self._graph_secret,
            }
        if self.acs:
            settings |= {"SMS_PROVIDER": "acs", "ACS_CONNECTION_STRING": self.acs.connection_string()}
        certificates = [server.ca_file for server in (self.graph and self.graph.server, self.acs) if server]
        if certificates:
            bundle = str(write_ca_bundle(self.key_dir / "localworld-ca.pem", *certificates))
            settings |= {"REQUESTS_CA_BUNDLE": bundle, "SSL_CERT_FILE": bundle}
        return settings

    def seed(self, connector_url: str | None = None) -> Seeded:
        """Register the connector at the local Epic (its JWKS), make or find the demo organisation, and connect
        Epic's SIU feed to its endpoint. `connector_url`: where the connector listens (default: its public URL).
        Raises SeedError naming the refused step."""
        base = (connector_url or self.public_base_url).rstrip("/")
        self.epic.trusted_jwks = requests.get(f"{base}/api/.well-known/jwks.json", timeout=10).json()
        seeded = seed(f"{base}/api", self.entra.url, self.epic.fhir_base_url, self.key_dir)
        key_file, _ = sender_key(self.key_dir)
        ingress_url = f"{self.public_base_url}/api/hl7/{seeded.endpoint_id}"
        self.epic.connect(Interface(ingress_url, key_file.read_bytes(), seeded.device_test_url))
        return seeded

    def describe(self) -> list[str]:
        """One line per service with the URL a person opens (or the connector calls)."""
        lines = [
            f"epic     {self.epic.url}/  provider schedule (Begin virtual visit, schedule/reschedule/cancel -> SIU)",
            f"mychart  {self.epic.url}/mychart  the patient's page (Begin video visit)",
            f"phone    {self.phone.url}/  SMS each patient number received",
            f"sign-in  {self.entra.url}{AUTHORIZE_PATH}  Entra-shaped sign-in (pick a user)",
            f"portal   {self.public_base_url}/api/portal  the connector's configuration portal (sign in as Alex Admin)",
            f"fhir     {self.epic.fhir_base_url}  SMART on FHIR (the demo endpoint's FHIR base URL)",
        ]
        if self.graph:
            lines.append(f"graph    {self.graph.server.url}/v1.0  Microsoft Graph stand-in (MEETING_PROVIDER=graph)")
        if self.acs:
            lines.append(
                f"acs      {self.acs.url}  Azure Communication Services SMS stand-in (SMS_PROVIDER=acs), delivery "
                f"reports through Event Grid to {self.acs.reports.webhook_url if self.acs.reports else '-'}"
            )
        return lines
