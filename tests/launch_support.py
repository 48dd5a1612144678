"""The launch's cast for tests and the benchmark: Epic, Entra and Graph stand-ins, an approved endpoint,
the local host, and a browser that follows redirects by hand (so every hop is visible)."""

from __future__ import annotations

import secrets
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import requests

from localworld.epic import EpicStandIn
from localworld.tls import write_ca_bundle
from shared import bootstrap
from shared.devhost.host import DevHost
from shared.domain.config import Endpoint, EndpointStatus, Environment, Organisation

PUBLIC_BASE_URL = "http://127.0.0.1:7071"
"""What storage_env sets: our redirect URIs name it; the browser sends those hops to the real host."""


def seed_endpoint(
    fhir_base_url: str,
    *,
    geo: str = "EU",
    status: EndpointStatus = EndpointStatus.APPROVED,
    organizer_user_id: str | None = None,
    ehr_write_back: bool = False,
) -> Endpoint:
    """An organisation and an endpoint for `fhir_base_url`, through the real ConfigStore."""
    store = bootstrap.get_config_store()
    suffix = secrets.token_hex(4)
    org = Organisation(f"org_{suffix}", f"Mercy {suffix}", geo, "Mercy")
    store.create_organisation(org)
    endpoint = Endpoint(
        id=f"ep_{suffix}",
        org_id=org.id,
        geo=geo,
        fhir_base_url=fhir_base_url,
        environment=Environment.TEST,
        approver_upn="analyst@hospital.example",
        time_zone="America/Chicago",
        status=status,
        version=1,
        organizer_user_id=organizer_user_id,
        ehr_write_back=ehr_write_back,
    )
    store.create_endpoint(endpoint)
    return endpoint


def set_status(endpoint: Endpoint, status: EndpointStatus) -> None:
    store = bootstrap.get_config_store()
    current = store.read_endpoint(endpoint.id)
    store.replace_endpoint(replace(current.value, status=status), current.etag, old_url=endpoint.fhir_base_url)


def ca_bundle(*files: str | None) -> str:
    """One CA file trusting every stand-in (requests reads one REQUESTS_CA_BUNDLE)."""
    return str(write_ca_bundle(Path(tempfile.mkdtemp(prefix="launch-ca-")) / "bundle.pem", *files))


@dataclass
class Browser:
    """Follows redirects one hop at a time; hops to our public URL go to the local host."""

    host: DevHost
    ca_file: str
    session: requests.Session

    def get(self, url: str) -> requests.Response:
        return self.session.get(self._local(url), allow_redirects=False, verify=self.ca_file, timeout=30)

    def post(self, url: str, data: dict[str, str]) -> requests.Response:
        """A form post (as a page's form sends it), not followed."""
        return self.session.post(self._local(url), data=data, allow_redirects=False, verify=self.ca_file, timeout=30)

    def _local(self, url: str) -> str:
        if url.startswith(PUBLIC_BASE_URL):
            return self.host.base_url + url[len(PUBLIC_BASE_URL) :]
        if url.startswith("/"):
            return self.host.base_url + url
        return url

    def follow(self, url: str, *, stop_at: str | None = None) -> tuple[requests.Response, list[str]]:
        """GET `url` and every redirect after it, up to the first answer that is not a redirect, or the first
        Location on host `stop_at` (not fetched: e.g. Teams). Returns the last answer and the hops."""
        hops = [url]
        answer = self.get(url)
        while answer.status_code in (301, 302, 303, 307):
            location = answer.headers["Location"]
            hops.append(location)
            if stop_at and urlsplit(location).hostname == stop_at:
                break
            answer = self.get(location)
        return answer, hops


def launch_url(path: str, epic: EpicStandIn, launch: str, **context: str) -> str:
    """Epic's launch of `path` (e.g. /api/launch/provider) with its iss, launch id and context parameters."""
    return f"{path}?{urlencode({'iss': epic.fhir_base_url, 'launch': launch, **context})}"
