"""Hostile bodies and query numbers: JSON read only after authorisation, within size and depth limits,
strict; query numbers ASCII digits only. Clear 400 / 413 problems, never a 500."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

import function_app
from localworld.entra import OTHER_TENANT, REPORT_READER_ROLE, TENANT, EntraStandIn
from shared import bootstrap
from shared.devhost.functions import read_functions
from shared.domain import context_token
from shared.domain.integration_records import DEVICE_TEST_PURPOSE
from tests.configapi import ConfigApi, Reply

DEEP = b'{"name":' + b"[" * 20000 + b"]" * 20000 + b"}"
NESTED_OBJECTS = b'{"a":' * 1000 + b"1" + b"}" * 1000
NOT_ASCII_DIGITS = ["\u00b2", "\u0663", "\uff11", "1\u00b2", "-1", "+1", " 1", "1e3", "9" * 40]
"""Superscript two, Arabic-Indic three, fullwidth one (all `str.isdigit`), and other non-numbers."""


@pytest.fixture
def api(config_env: dict[str, str], entra: EntraStandIn, monkeypatch: pytest.MonkeyPatch) -> Iterator[ConfigApi]:
    monkeypatch.setenv("ENTRA_ALLOWED_TENANTS", f"{TENANT},{OTHER_TENANT}")
    bootstrap.reset()
    client = ConfigApi(entra.admin_token())
    yield client
    client.close()


@pytest.fixture
def ids(api: ConfigApi) -> dict[str, str]:
    org = api.post("/api/config/organisations", {"name": "Mercy", "geo": "US", "display_name": "Mercy"}).json
    body = {
        "fhir_base_url": f"https://fhir-{uuid.uuid4().hex[:10]}.mercy.example/api/FHIR/R4",
        "environment": "test",
        "approver_upn": "analyst@hospital.example",
        "time_zone": "America/Chicago",
    }
    endpoint = api.post(f"/api/config/organisations/{org['id']}/endpoints", body)
    assert endpoint.status == 201, endpoint.body
    return {"orgId": org["id"], "endpointId": endpoint.json["id"], "environment": "test", "operationId": "op_x"}


OPENAPI = Path(__file__).resolve().parents[2] / "shared" / "openapi.json"


def operations_with_body() -> set[tuple[str, str]]:
    """(method, path) of every OpenAPI operation that takes a JSON request body."""
    paths = json.loads(OPENAPI.read_text())["paths"]
    return {
        (method.upper(), path)
        for path, item in paths.items()
        for method, operation in item.items()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    }


def write_routes() -> list[tuple[str, str, str]]:
    """(function, method, path template) of every configuration route whose OpenAPI operation takes a JSON body."""
    with_body = operations_with_body()
    routes = []
    for function in read_functions(function_app.app).http:
        template = function.trigger["route"]
        for method in function.trigger.get("methods") or []:
            verb = str(getattr(method, "value", method)).upper()
            if template.startswith("config/") and (verb, f"/api/{template}") in with_body:
                routes.append((function.name, verb, template))
    return routes


def send(api: ConfigApi, method: str, template: str, ids: dict[str, str], body: bytes, token: str) -> Reply:
    path = "/api/" + template
    for name, value in ids.items():
        path = path.replace("{" + name + "}", value)
    return api.request(method, path, raw=body, token=token, headers={"Content-Type": "application/json"})


def problem(reply: Reply, status: int, code: str) -> str:
    assert reply.status == status, reply.body[:300]
    assert reply.content_type.startswith("application/problem+json")
    assert reply.json["code"] == code
    return reply.json["detail"]


def test_every_configuration_write_route_takes_a_body() -> None:
    names = {name for name, _, _ in write_routes()}
    assert names == {
        "create_organisation",
        "update_organisation",
        "create_endpoint",
        "update_endpoint",
        "put_sms_settings",
        "record_toll_free_verification",
        "put_sender_keys",
        "order_phone_number",
        "put_sms_text",
        "preview_sms_text",
    }


def test_twenty_thousand_brackets_are_a_400_for_an_admin_on_every_write_route(api: ConfigApi, ids: dict) -> None:
    for name, method, template in write_routes():
        detail = problem(send(api, method, template, ids, DEEP, api.token or ""), 400, "invalid_request")
        assert "nests deeper than 16 levels" in detail, name


def test_a_deep_body_is_refused_before_parsing_for_callers_without_the_role(
    api: ConfigApi, ids: dict, entra: EntraStandIn
) -> None:
    """403 (no role) or 404 (another tenant's resource), never the parser's 400: nothing was parsed."""
    nobody = entra.token("nobody@hospital.example")
    reader = entra.token("reader@hospital.example", roles=(REPORT_READER_ROLE,))
    other_admin = entra.admin_token(tenant=OTHER_TENANT)
    for name, method, template in write_routes():
        for token in (nobody, reader):
            problem(send(api, method, template, ids, DEEP, token), 403, "forbidden")
        if "{" in template:
            problem(send(api, method, template, ids, DEEP, other_admin), 404, "not_found")
        assert send(api, method, template, ids, DEEP, "").status == 401, name


def test_a_body_over_the_limit_is_a_413(api: ConfigApi, ids: dict) -> None:
    big = json.dumps({"name": "x" * (64 * 1024)}).encode()
    for name, method, template in write_routes():
        assert "exceeds 64 KiB" in problem(
            send(api, method, template, ids, big, api.token or ""), 413, "payload_too_large"
        ), name


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b'{"name": NaN, "geo": "US", "display_name": "x"}', "NaN is not JSON"),
        (b'{"name": "a", "name": "b", "geo": "US", "display_name": "x"}', "a member twice"),
        (b'{"name": "a", "geo": "US", "display_name": "x"', "unterminated"),
        (b'["name"]', "not an object"),
        (b'{"name": "\xff", "geo": "US", "display_name": "x"}', "not UTF-8"),
        (b'{"name": 1' + b"0" * 5000 + b"}", "an integer of 5,000 digits"),
        (b"", "empty"),
    ],
)
def test_bodies_that_are_not_strict_json_objects_are_a_400(api: ConfigApi, body: bytes, why: str) -> None:
    before = len(api.get("/api/config/organisations").json["items"])
    reply = api.request(
        "POST", "/api/config/organisations", raw=body or b" ", headers={"Content-Type": "application/json"}
    )
    assert "must be a JSON object" in problem(reply, 400, "invalid_request"), why
    assert len(api.get("/api/config/organisations").json["items"]) == before


def test_a_string_full_of_brackets_is_not_nesting(api: ConfigApi) -> None:
    name = '[[[[{{{{"' * 3
    reply = api.post("/api/config/organisations", {"name": name[:100], "geo": "US", "display_name": "Brackets"})
    assert reply.status == 201, reply.body
    assert reply.json["name"] == name[:100]


def device_test_token(config_env: dict[str, str]) -> str:
    secret = base64.b64decode(config_env["CONTEXT_TOKEN_SECRET"])
    return context_token.sign("ep_devicetest", DEVICE_TEST_PURPOSE, secret)


def test_a_thousand_nested_objects_on_the_device_test_result_are_a_400(
    api: ConfigApi, config_env: dict[str, str]
) -> None:
    headers = {"X-Context-Token": device_test_token(config_env), "Content-Type": "application/json"}
    reply = api.request("POST", "/api/devicetest/result", raw=NESTED_OBJECTS, token="", headers=headers)
    assert "nests deeper" in problem(reply, 400, "invalid_request")


def test_the_device_test_result_is_not_parsed_without_a_valid_context_token(api: ConfigApi) -> None:
    for headers in ({}, {"X-Context-Token": "forged.token"}):
        reply = api.request(
            "POST",
            "/api/devicetest/result",
            raw=NESTED_OBJECTS,
            token="",
            headers={"Content-Type": "application/json", **headers},
        )
        assert reply.status == 401, reply.body


@pytest.mark.parametrize("value", NOT_ASCII_DIGITS)
def test_report_limits_are_ascii_digits_only(api: ConfigApi, ids: dict, value: str) -> None:
    for report in ("sms", "visits"):
        path = f"/api/reports/endpoints/{ids['endpointId']}/{report}"
        reply = api.get(f"{path}?{urlencode({'from': '2026-12-01', 'to': '2026-12-01', 'limit': value})}")
        assert "Query parameter limit must be a whole number" in problem(reply, 400, "invalid_request")


@pytest.mark.parametrize("value", NOT_ASCII_DIGITS)
def test_device_test_sample_sizes_are_ascii_digits_only(api: ConfigApi, config_env: dict[str, str], value: str) -> None:
    headers = {"X-Context-Token": device_test_token(config_env)}
    reply = api.get(f"/api/devicetest/ping?{urlencode({'bytes': value})}", token="", headers=headers)
    assert "Query parameter bytes must be a whole number" in problem(reply, 400, "invalid_request")


def test_plain_digits_still_work(api: ConfigApi, ids: dict, config_env: dict[str, str]) -> None:
    headers = {"X-Context-Token": device_test_token(config_env)}
    sample = api.get("/api/devicetest/ping?bytes=2048", token="", headers=headers)
    assert (sample.status, len(sample.body)) == (200, 2048)
    path = f"/api/reports/endpoints/{ids['endpointId']}/sms"
    assert api.get(f"{path}?from=2026-12-01&to=2026-12-01&limit=7").status == 200
