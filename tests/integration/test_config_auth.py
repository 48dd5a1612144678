"""Entra ID access tokens in front of the configuration API: every check can fail, and says why."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from localworld.entra import OTHER_TENANT, EntraStandIn
from tests.configapi import ConfigApi

ORGS = "/api/config/organisations"


@pytest.fixture
def api(config_env: dict[str, str]) -> Iterator[ConfigApi]:
    client = ConfigApi()
    yield client
    client.close()


def refused(api: ConfigApi, token: str | None, status: int = 401) -> str:
    reply = api.get(ORGS, token=token or "")
    assert reply.status == status, reply.body
    assert reply.content_type.startswith("application/problem+json")
    if status == 401:
        assert reply.headers["WWW-Authenticate"] == "Bearer"
    return reply.json["detail"]


def test_no_token(api: ConfigApi) -> None:
    assert "access token is required" in refused(api, None)


def test_malformed_token(api: ConfigApi) -> None:
    assert "not a well-formed JWT" in refused(api, "not.a.jwt")


def test_basic_scheme_is_refused(api: ConfigApi, entra: EntraStandIn) -> None:
    reply = api.get(ORGS, token="", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert reply.status == 401


def test_wrong_signature(api: ConfigApi, entra: EntraStandIn) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert "signature" in refused(api, entra.token(roles=("Connector.Admin",), key=stranger))


def test_expired(api: ConfigApi, entra: EntraStandIn) -> None:
    assert "expired" in refused(api, entra.token(roles=("Connector.Admin",), lifetime=-600))


def test_not_yet_valid(api: ConfigApi, entra: EntraStandIn) -> None:
    assert "not valid yet" in refused(api, entra.token(roles=("Connector.Admin",), not_before=3600))


def test_wrong_audience(api: ConfigApi, entra: EntraStandIn) -> None:
    assert "audience" in refused(api, entra.token(roles=("Connector.Admin",), audience="api://someone-else"))


def test_wrong_issuer(api: ConfigApi, entra: EntraStandIn) -> None:
    token = entra.token(roles=("Connector.Admin",), issuer="https://sts.windows.net/evil/")
    assert "issued by" in refused(api, token)


def test_other_tenant(api: ConfigApi, entra: EntraStandIn) -> None:
    assert "tenant" in refused(api, entra.token(roles=("Connector.Admin",), tenant=OTHER_TENANT))


def test_unknown_kid(api: ConfigApi, entra: EntraStandIn) -> None:
    assert "key Entra ID does not publish" in refused(api, entra.token(roles=("Connector.Admin",), kid="nope"))


def test_admin_is_let_in(api: ConfigApi, entra: EntraStandIn) -> None:
    reply = api.get(ORGS, token=entra.admin_token())
    assert reply.status == 200
    assert isinstance(reply.json["items"], list)


def test_other_user_is_forbidden(api: ConfigApi, entra: EntraStandIn) -> None:
    assert "Connector.Admin" in refused(api, entra.token("someone@hospital.example"), status=403)


def test_a_rolled_key_is_fetched_when_a_token_names_it(config_env: dict[str, str], entra: EntraStandIn) -> None:
    from shared.adapters.entra import EntraTokenValidator
    from shared.settings import get_settings

    validator = EntraTokenValidator(get_settings().require_entra(), refresh_floor_seconds=0)
    assert validator.validate(f"Bearer {entra.admin_token()}").is_admin
    fetches = sum(r.path.endswith("/keys") for r in entra.requests)
    entra.rotate()
    assert validator.validate(f"Bearer {entra.admin_token()}").is_admin
    assert sum(r.path.endswith("/keys") for r in entra.requests) == fetches + 1
    validator.validate(f"Bearer {entra.admin_token()}")  # known kid now: no further fetch
    assert sum(r.path.endswith("/keys") for r in entra.requests) == fetches + 1


def test_missing_entra_settings_name_them(app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ENTRA_OPENID_CONFIG_URL", "ENTRA_CLIENT_ID", "ENTRA_ALLOWED_TENANTS"):
        monkeypatch.delenv(name, raising=False)
    api = ConfigApi()
    reply = api.get(ORGS, token="x")
    api.close()
    assert reply.status == 500
    assert "ENTRA_OPENID_CONFIG_URL" in reply.json["detail"]
