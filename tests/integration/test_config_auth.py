"""Entra ID access tokens in front of the configuration API: every check can fail, and says why."""

from __future__ import annotations

from collections.abc import Iterator

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from localworld.entra import APP_ID_URI, CLIENT_ID, OTHER_TENANT, TENANT, V1_ISSUER, V2_ISSUER, EntraStandIn
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
    for name in ("ENTRA_AUTHORITY_HOST", "ENTRA_CLIENT_ID", "ENTRA_ALLOWED_TENANTS"):
        monkeypatch.delenv(name, raising=False)
    api = ConfigApi()
    reply = api.get(ORGS, token="x")
    api.close()
    assert reply.status == 500
    assert "ENTRA_CLIENT_ID" in reply.json["detail"]


@pytest.mark.parametrize(
    ("version", "audience"),
    [(1, APP_ID_URI), (1, CLIENT_ID), (2, CLIENT_ID), (2, APP_ID_URI)],
    ids=["v1-app-id-uri", "v1-client-id", "v2-client-id", "v2-app-id-uri"],
)
def test_v1_and_v2_access_tokens_of_our_app_are_accepted(
    api: ConfigApi, entra: EntraStandIn, version: int, audience: str
) -> None:
    """An app registration issues v1.0 tokens unless its manifest asks for v2.0 (access-tokens.md)."""
    token = entra.token(roles=("Connector.Admin",), version=version, audience=audience)
    expected_issuer = (V1_ISSUER if version == 1 else V2_ISSUER).format(tid=TENANT)
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == expected_issuer
    reply = api.get(ORGS, token=token)
    assert reply.status == 200, reply.body


def test_each_version_is_checked_against_the_tenants_own_configuration_of_that_version(
    config_env: dict[str, str], entra: EntraStandIn
) -> None:
    from shared.adapters.entra import EntraTokenValidator
    from shared.settings import get_settings

    validator = EntraTokenValidator(get_settings().require_entra())
    before = len(entra.requests)
    caller = validator.validate(f"Bearer {entra.token('ann@hospital.example', version=1)}")
    validator.validate(f"Bearer {entra.token('ann@hospital.example', version=2)}")
    paths = [r.path for r in entra.requests[before:] if "openid-configuration" in r.path]
    assert paths == [
        f"/{TENANT}/.well-known/openid-configuration",
        f"/{TENANT}/v2.0/.well-known/openid-configuration",
    ]
    assert (caller.upn, caller.tenant_id) == ("ann@hospital.example", TENANT)  # v1.0 names the user in upn
    assert caller.object_id == entra.object_id("ann@hospital.example")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"version": 1, "issuer": V2_ISSUER.format(tid=TENANT)}, "issued by"),  # ver 1.0 with a v2.0 issuer
        ({"version": 2, "issuer": V1_ISSUER.format(tid=TENANT)}, "issued by"),
        ({"issuer": V2_ISSUER.format(tid=OTHER_TENANT)}, "issued by"),  # tid of one tenant, issuer of another
        ({"audience": "api://someone-else"}, "audience"),
        ({"audience": f"api://{CLIENT_ID}/extra"}, "audience"),
    ],
)
def test_issuer_and_audience_must_be_exactly_ours(
    api: ConfigApi, entra: EntraStandIn, changes: dict, reason: str
) -> None:
    assert reason in refused(api, entra.token(roles=("Connector.Admin",), **changes))


def test_a_token_without_a_known_version_is_refused(api: ConfigApi, entra: EntraStandIn) -> None:
    claims = jwt.decode(entra.admin_token(), options={"verify_signature": False})
    del claims["ver"]
    token = jwt.encode(claims, entra.keys[entra.current_kid], algorithm="RS256", headers={"kid": entra.current_kid})
    assert "v1.0 nor a v2.0" in refused(api, token)


def test_a_token_without_object_id_is_refused(api: ConfigApi, entra: EntraStandIn) -> None:
    claims = jwt.decode(entra.admin_token(), options={"verify_signature": False})
    del claims["oid"]
    token = jwt.encode(claims, entra.keys[entra.current_kid], algorithm="RS256", headers={"kid": entra.current_kid})
    assert "oid" in refused(api, token)


def test_a_tenant_that_is_no_guid_is_refused_before_any_discovery(api: ConfigApi, entra: EntraStandIn) -> None:
    before = len(entra.requests)
    assert "tenant" in refused(api, entra.token(roles=("Connector.Admin",), tenant="../organizations"))
    assert len(entra.requests) == before


def test_the_stand_in_refuses_multi_tenant_authorities_as_a_single_tenant_registration(entra: EntraStandIn) -> None:
    reply = requests.get(f"{entra.url}/organizations/oauth2/v2.0/authorize", timeout=5)
    assert reply.status_code == 400
    assert "AADSTS50194" in reply.json()["error_description"]
    stranger = "99999999-0000-0000-0000-000000000000"
    unknown = requests.get(f"{entra.url}/{stranger}/v2.0/.well-known/openid-configuration", timeout=5)
    assert "AADSTS90002" in unknown.json()["error_description"]
