"""LOOPBACK_HTTP: an Epic on http://127.0.0.1 can be registered and validated in a local run, and only then."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from localworld.entra import EntraStandIn
from localworld.epic import CLIENT_ID, EpicStandIn
from localworld.server import Response, StandIn
from shared import bootstrap
from shared.errors import UpstreamError
from tests.configapi import ConfigApi

APPROVER = "analyst@hospital.example"


@pytest.fixture
def plain_epic(config_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[EpicStandIn]:
    """Epic's SMART endpoints over plain http on 127.0.0.1, as `make run` serves them."""
    monkeypatch.setenv("EPIC_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("EPIC_PRIVATE_KEY", str(tmp_path / "epic-key.pem"))
    from shared.devhost.devkeys import ensure_development_key

    ensure_development_key({"EPIC_PRIVATE_KEY": str(tmp_path / "epic-key.pem")})
    with EpicStandIn(tls=False) as stand_in:
        yield stand_in


def register(api: ConfigApi, fhir_base_url: str) -> tuple[int, dict]:
    org = api.post("/api/config/organisations", {"name": "Mercy", "geo": "US", "display_name": "Mercy"}).json
    body = {"fhir_base_url": fhir_base_url, "environment": "test", "approver_upn": APPROVER, "time_zone": "UTC"}
    reply = api.post(f"/api/config/organisations/{org['id']}/endpoints", body)
    return reply.status, reply.json


def test_without_the_setting_an_http_fhir_base_url_is_refused(plain_epic: EpicStandIn, entra: EntraStandIn) -> None:
    api = ConfigApi(entra.admin_token())
    status, problem = register(api, plain_epic.fhir_base_url)
    assert status == 400
    assert "https" in problem["detail"]


def test_with_the_setting_an_http_epic_on_loopback_is_registered_and_validated(
    plain_epic: EpicStandIn, entra: EntraStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOPBACK_HTTP", "true")
    bootstrap.reset()
    api = ConfigApi(entra.admin_token())
    plain_epic.trusted_jwks = api.get("/api/.well-known/jwks.json").json
    status, endpoint = register(api, plain_epic.fhir_base_url)
    assert status == 201, endpoint
    assert endpoint["fhir_base_url"].startswith("http://127.0.0.1:")
    api.post(f"/api/config/endpoints/{endpoint['id']}/submit")

    started = api.post(f"/api/config/endpoints/{endpoint['id']}/validation", token=entra.token(APPROVER))
    assert started.status == 200, started.body
    assert started.json["authorize_url"].startswith(f"{plain_epic.url}/oauth2/authorize?")
    authorize = requests.get(started.json["authorize_url"], allow_redirects=False, timeout=5)
    callback = urlsplit(authorize.headers["Location"])
    validated = api.get(f"{callback.path}?{callback.query}", token="")
    assert validated.status == 200, validated.body
    assert plain_epic.token_refusals == []


def test_even_with_the_setting_smart_endpoints_elsewhere_must_be_https(
    config_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """A loopback FHIR server whose discovery names plain-http endpoints on another host is refused."""
    monkeypatch.setenv("LOOPBACK_HTTP", "true")
    monkeypatch.setenv("EPIC_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("EPIC_PRIVATE_KEY", str(tmp_path / "key.pem"))
    from shared.devhost.devkeys import ensure_development_key

    ensure_development_key({"EPIC_PRIVATE_KEY": str(tmp_path / "key.pem")})
    bootstrap.reset()
    discovery = {"authorization_endpoint": "http://epic.example/authorize", "token_endpoint": "http://epic.example/t"}
    with (
        StandIn(lambda request: Response.json(discovery)) as server,
        pytest.raises(UpstreamError, match="no https authorization"),
    ):
        bootstrap.get_smart_client().discover(f"{server.url}/api/FHIR/R4")
