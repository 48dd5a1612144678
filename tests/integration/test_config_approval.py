"""Approval: the named approver signs in to Epic (SMART, PKCE, private_key_jwt) and approves one version."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from localworld.entra import EntraStandIn
from localworld.epic import EpicStandIn
from shared import bootstrap
from tests.configapi import ConfigApi, Reply

APPROVER = "analyst@hospital.example"


@pytest.fixture
def api(epic: EpicStandIn, entra: EntraStandIn) -> Iterator[ConfigApi]:
    client = ConfigApi(entra.admin_token())
    epic.trusted_jwks = client.get("/api/.well-known/jwks.json").json
    yield client
    client.close()


@pytest.fixture
def pending(api: ConfigApi, epic: EpicStandIn) -> dict:
    org = api.post("/api/config/organisations", {"name": "Mercy", "geo": "US", "display_name": "Mercy"}).json
    body = {
        "fhir_base_url": epic.fhir_base_url,
        "environment": "test",
        "approver_upn": APPROVER,
        "time_zone": "America/Chicago",
    }
    endpoint = api.post(f"/api/config/organisations/{org['id']}/endpoints", body).json
    return api.post(f"/api/config/endpoints/{endpoint['id']}/submit").json


def sign_in_to_epic(api: ConfigApi, epic: EpicStandIn, endpoint_id: str, token: str) -> Reply:
    """Start validation as the approver, follow Epic's authorize redirect, and deliver the callback."""
    started = api.post(f"/api/config/endpoints/{endpoint_id}/validation", token=token)
    assert started.status == 200, started.body
    authorize = requests.get(started.json["authorize_url"], allow_redirects=False, verify=epic.ca_file, timeout=5)
    assert authorize.status_code == 302, authorize.text
    callback = urlsplit(authorize.headers["Location"])
    assert callback.path == "/api/config/approval/callback"
    return api.get(f"{callback.path}?{callback.query}", token="")


def test_the_jwks_publishes_our_key_with_a_thumbprint_kid(api: ConfigApi) -> None:
    [key] = api.get("/api/.well-known/jwks.json").json["keys"]
    assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS384", "sig")
    assert len(key["kid"]) == 43  # Base64url SHA-256 (RFC 7638)
    assert "d" not in key
    assert "p" not in key


def test_the_authorize_url_carries_pkce_aud_and_a_state(
    api: ConfigApi, epic: EpicStandIn, pending: dict, entra
) -> None:
    started = api.post(f"/api/config/endpoints/{pending['id']}/validation", token=entra.token(APPROVER))
    query = parse_qs(urlsplit(started.json["authorize_url"]).query)
    assert query["aud"] == [epic.fhir_base_url]
    assert query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == ["http://127.0.0.1:7071/api/config/approval/callback"]
    assert len(query["state"][0]) >= 32


def test_only_the_named_approver_validates_and_approves(api: ConfigApi, pending: dict, entra) -> None:
    path = f"/api/config/endpoints/{pending['id']}"
    assert api.post(f"{path}/validation").status == 403  # an admin who is not the approver
    assert api.post(f"{path}/validation", token=entra.token("other@hospital.example")).status == 403
    assert api.post(f"{path}/approve", token=entra.token("other@hospital.example")).status == 403
    refusal = api.post(f"{path}/approve", token=entra.token(APPROVER))
    assert refusal.status == 409
    assert "Validate with Epic first" in refusal.json["detail"]


def test_validation_then_approval(api: ConfigApi, epic: EpicStandIn, pending: dict, entra) -> None:
    approver = entra.token(APPROVER)
    callback = sign_in_to_epic(api, epic, pending["id"], approver)
    assert callback.status == 200, callback.body
    assert callback.json["validated"] is True
    assert epic.token_refusals == []
    approved = api.post(f"/api/config/endpoints/{pending['id']}/approve", token=approver)
    assert approved.status == 200, approved.body
    assert approved.json["status"] == "approved"
    actions = [e["action"] for e in api.get(f"/api/config/organisations/{pending['org_id']}/audit").json["items"]]
    assert actions[:2] == ["endpoint.approved", "endpoint.validated_with_epic"]


def test_a_state_is_single_use(api: ConfigApi, epic: EpicStandIn, pending: dict, entra) -> None:
    started = api.post(f"/api/config/endpoints/{pending['id']}/validation", token=entra.token(APPROVER))
    authorize = requests.get(started.json["authorize_url"], allow_redirects=False, verify=epic.ca_file, timeout=5)
    callback = urlsplit(authorize.headers["Location"])
    assert api.get(f"{callback.path}?{callback.query}").status == 200
    replay = api.get(f"{callback.path}?{callback.query}")
    assert replay.status == 400
    assert "used already" in replay.json["detail"]
    forged = api.get(f"{callback.path}?code=abc&state=made-up")
    assert forged.status == 400


def test_epic_refusing_the_code_fails_the_validation(api: ConfigApi, epic: EpicStandIn, pending: dict, entra) -> None:
    started = api.post(f"/api/config/endpoints/{pending['id']}/validation", token=entra.token(APPROVER))
    state = parse_qs(urlsplit(started.json["authorize_url"]).query)["state"][0]
    reply = api.get(f"/api/config/approval/callback?code=not-issued&state={state}")
    assert reply.status == 400
    assert "Epic refused" in reply.json["detail"]
    assert epic.token_refusals == ["unknown code"]
    assert api.post(f"/api/config/endpoints/{pending['id']}/approve", token=entra.token(APPROVER)).status == 409


def test_an_admin_edit_after_validation_makes_the_approval_fail(
    api: ConfigApi, epic: EpicStandIn, pending: dict, entra
) -> None:
    approver = entra.token(APPROVER)
    assert sign_in_to_epic(api, epic, pending["id"], approver).status == 200
    assert api.patch(f"/api/config/endpoints/{pending['id']}", {"time_zone": "America/New_York"}).status == 200
    refusal = api.post(f"/api/config/endpoints/{pending['id']}/approve", token=approver)
    assert refusal.status == 409
    assert "changed since you validated" in refusal.json["detail"]
    assert api.get(f"/api/config/endpoints/{pending['id']}").json["status"] == "pending_approval"


def test_a_validation_older_than_30_minutes_is_not_enough(
    api: ConfigApi, epic: EpicStandIn, pending: dict, entra
) -> None:
    approver = entra.token(APPROVER)
    assert sign_in_to_epic(api, epic, pending["id"], approver).status == 200
    store = bootstrap.get_config_store()
    validation = store.get_validation(pending["id"], entra.object_id(APPROVER))
    store.upsert_validation(replace(validation, validated_at=datetime.now(UTC) - timedelta(minutes=31)))
    refusal = api.post(f"/api/config/endpoints/{pending['id']}/approve", token=approver)
    assert refusal.status == 409
    assert "older than 30 minutes" in refusal.json["detail"]


def test_an_epic_error_redirect_is_a_problem(api: ConfigApi) -> None:
    reply = api.get("/api/config/approval/callback?error=access_denied&state=x")
    assert reply.status == 400
    assert reply.content_type.startswith("application/problem+json")
    assert "did not sign the approver in" in reply.json["detail"]
