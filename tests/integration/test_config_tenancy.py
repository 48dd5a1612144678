"""Tenancy: every organisation belongs to one Entra tenant; approvers are tenant + object id; readers read reports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from localworld.entra import OTHER_TENANT, REPORT_READER_ROLE, TENANT, EntraStandIn
from localworld.epic import EpicStandIn
from shared import bootstrap
from shared.adapters.config_store import ORG_PARTITION
from shared.errors import NotAuthorisedError
from tests.configapi import ConfigApi

ORGS = "/api/config/organisations"
APPROVER = "analyst@hospital.example"


@pytest.fixture
def two_tenants(epic: EpicStandIn, entra: EntraStandIn, monkeypatch: pytest.MonkeyPatch) -> Iterator[ConfigApi]:
    monkeypatch.setenv("ENTRA_ALLOWED_TENANTS", f"{TENANT},{OTHER_TENANT}")
    bootstrap.reset()
    client = ConfigApi(entra.admin_token())
    epic.trusted_jwks = client.get("/api/.well-known/jwks.json").json
    yield client
    client.close()


def pending_endpoint(api: ConfigApi, epic: EpicStandIn) -> dict:
    org = api.post(ORGS, {"name": "Mercy", "geo": "US", "display_name": "Mercy"}).json
    body = {
        "fhir_base_url": epic.fhir_base_url,
        "environment": "test",
        "approver_upn": APPROVER,
        "time_zone": "America/Chicago",
    }
    endpoint = api.post(f"{ORGS}/{org['id']}/endpoints", body)
    assert endpoint.status == 201, endpoint.body
    return api.post(f"/api/config/endpoints/{endpoint.json['id']}/submit").json


def test_an_organisation_belongs_to_its_creators_tenant_and_is_absent_for_others(
    two_tenants: ConfigApi, entra: EntraStandIn
) -> None:
    api, other_admin = two_tenants, entra.admin_token(tenant=OTHER_TENANT)
    org = api.post(ORGS, {"name": "Mercy", "geo": "US", "display_name": "Mercy"}).json
    assert org["tenant_id"] == TENANT
    assert org["id"] not in [o["id"] for o in api.get(ORGS, token=other_admin).json["items"]]
    for method, path, body in [
        ("GET", f"{ORGS}/{org['id']}", None),
        ("PATCH", f"{ORGS}/{org['id']}", {"name": "Taken over"}),
        ("GET", f"{ORGS}/{org['id']}/endpoints", None),
        ("GET", f"{ORGS}/{org['id']}/audit", None),
    ]:
        reply = api.request(method, path, body, token=other_admin)
        assert reply.status == 404, (method, path, reply.body)
        assert reply.json["detail"] == "No such organisation."  # the same words as for an id that never existed
    assert api.get(f"{ORGS}/{org['id']}").json["name"] == "Mercy"
    theirs = api.post(ORGS, {"name": "Theirs", "geo": "EU", "display_name": "Theirs"}, token=other_admin).json
    assert theirs["tenant_id"] == OTHER_TENANT
    assert [o["id"] for o in api.get(ORGS, token=other_admin).json["items"]] == [theirs["id"]]


def test_the_approver_is_tenant_and_object_id_pinned_at_first_sign_in(
    two_tenants: ConfigApi, epic: EpicStandIn, entra: EntraStandIn
) -> None:
    api = two_tenants
    endpoint = pending_endpoint(api, epic)
    path = f"/api/config/endpoints/{endpoint['id']}"
    assert endpoint["approver_object_id"] is None
    namesake = entra.token(APPROVER, tenant=OTHER_TENANT)  # same UPN, other tenant
    assert api.post(f"{path}/validation", token=namesake).status == 404
    assert api.post(f"{path}/approve", token=namesake).status == 404
    assert api.get(path, token=namesake).status == 404

    assert api.post(f"{path}/validation", token=entra.token(APPROVER)).status == 200
    assert api.get(path).json["approver_object_id"] == entra.object_id(APPROVER)
    actions = [e["action"] for e in api.get(f"{ORGS}/{endpoint['org_id']}/audit").json["items"]]
    assert actions[0] == "endpoint.approver_pinned"

    reused_upn = entra.token(APPROVER, object_id="44444444-4444-4444-4444-444444444444")  # a later holder of the UPN
    assert api.post(f"{path}/validation", token=reused_upn).status == 403
    assert api.post(f"{path}/approve", token=reused_upn).status == 403


def test_naming_another_approver_unpins_the_first(
    two_tenants: ConfigApi, epic: EpicStandIn, entra: EntraStandIn
) -> None:
    api = two_tenants
    endpoint = pending_endpoint(api, epic)
    path = f"/api/config/endpoints/{endpoint['id']}"
    assert api.post(f"{path}/validation", token=entra.token(APPROVER)).status == 200
    changed = api.patch(path, {"approver_upn": "second@hospital.example"})
    assert changed.status == 200, changed.body
    assert changed.json["approver_object_id"] is None
    assert api.post(f"{path}/validation", token=entra.token(APPROVER)).status == 403
    assert api.post(f"{path}/validation", token=entra.token("second@hospital.example")).status == 200


def test_a_report_reader_reads_reports_of_their_tenant_only(
    two_tenants: ConfigApi, epic: EpicStandIn, entra: EntraStandIn
) -> None:
    api = two_tenants
    endpoint = pending_endpoint(api, epic)
    report = f"/api/reports/endpoints/{endpoint['id']}/sms?from=2026-12-01&to=2026-12-01"
    reader = entra.token("reader@hospital.example", roles=(REPORT_READER_ROLE,))
    assert api.get(report, token=reader).status == 200
    assert (
        api.get(
            report, token=entra.token("reader@other.example", roles=(REPORT_READER_ROLE,), tenant=OTHER_TENANT)
        ).status
        == 404
    )
    assert api.get(f"{ORGS}/{endpoint['org_id']}", token=reader).status == 403
    assert api.get(f"/api/config/endpoints/{endpoint['id']}", token=reader).status == 403


def test_rows_stored_before_tenancy_belong_to_the_only_allowed_tenant(
    config_env: dict[str, str], entra: EntraStandIn
) -> None:
    api = ConfigApi(entra.admin_token())
    org = api.post(ORGS, {"name": "Old", "geo": "US", "display_name": "Old"}).json
    table = bootstrap.get_storage().control.table("organisations")
    row = table.get(ORG_PARTITION, org["id"]).entity
    table.upsert({key: value for key, value in row.items() if key != "tenant_id"})  # as stored before tenancy
    assert api.get(f"{ORGS}/{org['id']}").json["tenant_id"] == TENANT
    api.close()


def test_rows_stored_before_tenancy_are_nobodys_with_two_tenants(two_tenants: ConfigApi, entra: EntraStandIn) -> None:
    api = two_tenants
    org = api.post(ORGS, {"name": "Old", "geo": "US", "display_name": "Old"}).json
    table = bootstrap.get_storage().control.table("organisations")
    row = table.get(ORG_PARTITION, org["id"]).entity
    table.upsert({key: value for key, value in row.items() if key != "tenant_id"})
    assert api.get(f"{ORGS}/{org['id']}").status == 404
    assert api.get(f"{ORGS}/{org['id']}", token=entra.admin_token(tenant=OTHER_TENANT)).status == 404


def test_the_provider_signs_in_at_the_organisations_own_tenant(two_tenants: ConfigApi, entra: EntraStandIn) -> None:
    validator = bootstrap.get_token_validator()
    url = validator.sign_in_url(
        tenant_id=OTHER_TENANT,
        redirect_uri="http://127.0.0.1:7071/api/launch/signin",
        state="s",
        code_challenge="c",
        nonce="n",
    )
    assert url.startswith(f"{entra.url}/{OTHER_TENANT}/oauth2/v2.0/authorize?")
    with pytest.raises(NotAuthorisedError):
        validator.sign_in_url(
            tenant_id="99999999-0000-0000-0000-000000000000", redirect_uri="x", state="s", code_challenge="c", nonce="n"
        )


def test_a_sign_in_of_one_tenant_is_not_redeemed_for_another(two_tenants: ConfigApi, entra: EntraStandIn) -> None:
    from shared.adapters.smart import new_pkce

    verifier, challenge = new_pkce()
    validator = bootstrap.get_token_validator()
    redirect = "http://127.0.0.1:7071/api/launch/signin"
    url = validator.sign_in_url(tenant_id=TENANT, redirect_uri=redirect, state="s", code_challenge=challenge, nonce="n")
    code = requests.get(url, allow_redirects=False, timeout=5).headers["Location"].split("code=")[1].split("&")[0]
    with pytest.raises(NotAuthorisedError, match="did not complete"):
        validator.redeem_sign_in(
            tenant_id=OTHER_TENANT, code=code, redirect_uri=redirect, code_verifier=verifier, nonce="n"
        )
