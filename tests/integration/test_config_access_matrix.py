"""The authorisation matrix: admin / approver / report reader / no role, of the resources' tenant and of
another, on every configuration and report route of the app's own route table. 0 unauthorised successes.

Routes come from `function_app.app` (a new route is in the matrix without anyone adding it here); each
caller is a real Entra-shaped token; each request goes through the app's router against Azurite.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

import function_app
from localworld.entra import OTHER_TENANT, REPORT_READER_ROLE, TENANT, EntraStandIn
from localworld.epic import EpicStandIn
from shared import bootstrap
from shared.devhost.functions import Function, read_functions
from tests.configapi import ConfigApi, Reply
from tests.integration.test_config_sender_keys import b64, certificate

APPROVER = "analyst@hospital.example"
GUARDED = ("config/", "reports/")
NOT_BEARER = {"complete_epic_validation": "Epic's redirect: bound to a one-time state, not to a bearer token"}
REPORT_QUERY = "?from=2026-12-01&to=2026-12-01"
REFUSED = {401, 403, 404}
OPENAPI = Path(__file__).resolve().parents[2] / "shared" / "openapi.json"
DER = Encoding.DER

APPROVER_ONLY = {"start_epic_validation", "approve_endpoint"}
ALLOWED: dict[str, set[str]] = {
    "approver": {"get_endpoint", "get_integration_records", *APPROVER_ONLY},
    "reader": {"get_sms_report", "get_visits_report"},
    "none": set(),
}
"""What each role but admin may do in its own tenant; an admin may do everything but the approver's part.
In another tenant: nothing."""
ROLES = ("admin", "approver", "reader", "none")


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    template: str

    @property
    def names_a_resource(self) -> bool:
        """False for the collection of organisations: there a caller acts on their own tenant's."""
        return "{" in self.template


def guarded_routes() -> list[Route]:
    routes = []
    for function in read_functions(function_app.app).http:
        template = function.trigger["route"]
        if template.startswith(GUARDED) and function.name not in NOT_BEARER:
            routes.extend(Route(function.name, method, template) for method in _methods(function))
    return routes


def _methods(function: Function) -> list[str]:
    """The binding's methods (enum members or text, as the library gives them)."""
    return [str(getattr(m, "value", m)).upper() for m in function.trigger.get("methods") or []]


def may(role: str, route: Route) -> bool:
    """Whether `role` may call `route` on its own tenant's resources."""
    if role == "admin":
        return route.name not in APPROVER_ONLY
    return route.name in ALLOWED[role]


def must_refuse(role: str, tenant: str, route: Route) -> bool:
    """Tenant A owns every resource named in a path; the organisations collection is each caller's own."""
    return not (may(role, route) and (tenant == TENANT or not route.names_a_resource))


@pytest.fixture
def world(epic: EpicStandIn, entra: EntraStandIn, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ConfigApi, dict]]:
    """Tenant A's organisation (consents given), pending endpoint, sender keys and a phone-number order."""
    monkeypatch.setenv("ENTRA_ALLOWED_TENANTS", f"{TENANT},{OTHER_TENANT}")
    bootstrap.reset()
    api = ConfigApi(entra.admin_token())
    org = api.post("/api/config/organisations", {"name": "Mercy", "geo": "US", "display_name": "Mercy"}).json
    consents = {"consent_send_on_behalf": True, "consent_patients_consented": True}
    assert api.patch(f"/api/config/organisations/{org['id']}", consents).status == 200
    body = {
        "fhir_base_url": epic.fhir_base_url,
        "environment": "test",
        "approver_upn": APPROVER,
        "time_zone": "America/Chicago",
    }
    endpoint = api.post(f"/api/config/organisations/{org['id']}/endpoints", body).json
    assert api.post(f"/api/config/endpoints/{endpoint['id']}/submit").status == 200
    cert, _ = certificate()
    keys = api.put(
        f"/api/config/organisations/{org['id']}/sender-keys/test", {"certificate": b64(cert.public_bytes(DER))}
    )
    assert keys.status == 200, keys.body
    order = api.post(f"/api/config/organisations/{org['id']}/phone-numbers", {"country_code": "US"})
    assert order.status == 202, order.body
    ids = {
        "orgId": org["id"],
        "endpointId": endpoint["id"],
        "operationId": order.json["id"],
        "environment": "test",
        "number": "+18005550100",
    }
    yield api, ids
    api.close()


def callers(entra: EntraStandIn) -> dict[tuple[str, str], str]:
    tokens = {}
    for tenant in (TENANT, OTHER_TENANT):
        tokens[("admin", tenant)] = entra.admin_token(tenant=tenant)
        tokens[("approver", tenant)] = entra.token(APPROVER, tenant=tenant)
        tokens[("reader", tenant)] = entra.token("reader@hospital.example", roles=(REPORT_READER_ROLE,), tenant=tenant)
        tokens[("none", tenant)] = entra.token("nobody@hospital.example", tenant=tenant)
    return tokens


def send(api: ConfigApi, route: Route, ids: dict[str, str], token: str) -> Reply:
    path = "/api/" + re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], route.template)
    if route.template.startswith("reports/"):
        path += REPORT_QUERY
    body = {} if route.method in ("POST", "PUT", "PATCH") else None
    return api.request(route.method, path, body, token=token)


def audit_of(api: ConfigApi, org_id: str) -> list[dict]:
    return api.get(f"/api/config/organisations/{org_id}/audit").json["items"]


def test_the_matrix_covers_every_documented_configuration_and_report_operation() -> None:
    """The route table and the OpenAPI document agree: no operation escapes the matrix."""
    documented = {
        (method.upper(), path)
        for path, item in json.loads(OPENAPI.read_text())["paths"].items()
        for method in item
        if path.startswith(("/api/config/", "/api/reports/")) and path != "/api/config/approval/callback"
    }
    assert {(route.method, f"/api/{route.template}") for route in guarded_routes()} == documented
    assert len(documented) == 25


def test_no_caller_succeeds_where_they_are_not_allowed(world: tuple[ConfigApi, dict], entra: EntraStandIn) -> None:
    api, ids = world
    tokens = callers(entra)
    routes = guarded_routes()
    before = audit_of(api, ids["orgId"])
    unauthorised_successes, wrong_refusals = [], []
    for (role, tenant), token in tokens.items():
        for route in routes:
            if not must_refuse(role, tenant, route):
                continue
            reply = send(api, route, ids, token)
            if reply.status < 400:
                unauthorised_successes.append((role, tenant, route.method, route.template, reply.status))
            elif reply.status not in REFUSED:
                wrong_refusals.append((role, tenant, route.method, route.template, reply.status))
            if tenant == OTHER_TENANT and may(role, route) and reply.status != 404:
                # Whoever may do this in their own tenant learns nothing of another's: it is absent for them.
                wrong_refusals.append((role, tenant, route.method, route.template, f"{reply.status}, not 404"))
    refused_count = sum(must_refuse(role, tenant, route) for role, tenant in tokens for route in routes)
    print(
        f"\naccess matrix: {len(routes)} routes x {len(tokens)} callers, {refused_count} refused cases, "
        f"{len(unauthorised_successes)} unauthorised successes"
    )
    assert unauthorised_successes == []
    assert wrong_refusals == []
    theirs = api.get("/api/config/organisations", token=tokens[("admin", OTHER_TENANT)]).json["items"]
    assert ids["orgId"] not in [org["id"] for org in theirs]
    assert audit_of(api, ids["orgId"]) == before  # refused requests changed nothing


def test_every_allowed_caller_gets_past_authorisation(world: tuple[ConfigApi, dict], entra: EntraStandIn) -> None:
    """The other half: the matrix refuses by rule, not by refusing everybody."""
    api, ids = world
    tokens = callers(entra)
    refused = []
    for role in ROLES:
        for route in guarded_routes():
            if may(role, route):
                reply = send(api, route, ids, tokens[(role, TENANT)])
                if reply.status in REFUSED:
                    refused.append((role, route.method, route.template, reply.status, reply.body[:120]))
    assert refused == []
