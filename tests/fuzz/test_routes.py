"""Every HTTP route of the app's own route table, fuzzed with Hypothesis (issue 15.7): malformed and hostile
values in the path, the query, the headers and the body, without a token, with a forged one, with an
admin's and with a device-test context token. Wanted: no response >= 500, no unhandled exception (nothing
logged at ERROR), and nothing changed in storage by a route whose every answer was a refusal.

The OpenAPI-driven half is tests/e2e/test_config_schemathesis.py; queue payloads and HL7 bodies are fuzzed
in tests/fuzz/test_queues.py.
"""

from __future__ import annotations

import base64
import json
import logging
import os

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from localworld.entra import EntraStandIn
from shared.devhost.host import DevHost
from shared.domain import context_token
from shared.domain.integration_records import DEVICE_TEST_PURPOSE
from tests.fuzz.conftest import FUZZ_EXAMPLES, record
from tests.fuzz.storage_state import storage_state
from tests.routes import RouteCall, app_routes

HOSTILE = [
    "",
    "²",
    "١٢",
    "-1",
    "0x10",
    "1e9",
    "99999999999999999999999",
    "../../etc/passwd",
    "%00",
    "\x00",
    "\r\nX-Injected: 1",
    "\x1b[31m",
    "<script>alert(1)</script>",
    "' OR PartitionKey ne '",
    "PartitionKey eq 'x' or true",
    "x" * 5000,
    "\ud7ff\ufeff\u202e",
    "null",
    "[]",
    "{}",
]
QUERY_NAMES = [
    "limit", "from", "to", "continuation", "bytes", "ctx", "format", "iss", "launch", "sessionId",
    "departmentId", "code", "state", "error", "validationToken", "environment",
]  # fmt: skip
LATIN_1 = st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f")
HEADER_TEXT = st.text(LATIN_1, max_size=60).map(lambda value: f"x{value}")  # no client sends leading whitespace
TEXT = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40))
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
BODY = st.one_of(
    st.binary(max_size=300),
    JSON.map(lambda value: json.dumps(value).encode()),
    st.integers(min_value=1, max_value=30_000).map(lambda depth: b'{"name":' + b"[" * depth + b"]" * depth + b"}"),
    st.integers(min_value=1, max_value=2_000).map(lambda depth: b'{"a":' * depth + b"1" + b"}" * depth),
    st.just(b"MSH|^~\\&|A|B|C|D|20261201||SIU^S12|c1|P|2.5\rSCH|1|2\r"),
)
AUTH = st.sampled_from(["none", "forged", "admin", "device"])
ROUTES = app_routes()


def _request(host: DevHost, call: RouteCall, admin_token: str, draw: dict) -> requests.Response:
    headers = {name: value for name, value in draw["headers"].items() if value is not None}
    query = draw["query"]
    if draw["auth"] == "admin":
        headers["Authorization"] = f"Bearer {admin_token}"
    elif draw["auth"] == "forged":
        headers["Authorization"] = f"Bearer {draw['forged']}"
    elif draw["auth"] == "device":
        secret = base64.b64decode(os.environ["CONTEXT_TOKEN_SECRET"])
        headers["X-Context-Token"] = context_token.sign("ep-1", DEVICE_TEST_PURPOSE, secret)
        query = {**query, "ctx": headers["X-Context-Token"]}
    return requests.request(
        call.method,
        f"{host.base_url}{call.path(draw['path'])}",
        params=query,
        headers=headers,
        data=draw["body"] if call.method in ("POST", "PUT", "PATCH") else None,
        allow_redirects=False,
        timeout=60,
    )


REQUESTS = st.fixed_dictionaries(
    {
        "auth": AUTH,
        "forged": st.sampled_from(["x.y.z", "eyJhbGciOiJub25lIn0.e30.", "a" * 3000]) | HEADER_TEXT,
        "path": TEXT.filter(lambda value: value != ""),
        "query": st.dictionaries(st.sampled_from(QUERY_NAMES) | st.text(max_size=8), TEXT, max_size=4),
        "headers": st.fixed_dictionaries(
            {},
            optional={
                "Content-Type": st.sampled_from(["application/json", "text/plain", "application/hl7-v2", "x/y"])
                | HEADER_TEXT,
                "Accept": st.sampled_from(["text/csv", "text/plain", "application/json", "*/*"]) | HEADER_TEXT,
                "If-Match": st.sampled_from(['"x"', "*", 'W/"1"']) | HEADER_TEXT,
                "X-Context-Token": HEADER_TEXT,
                "Cookie": HEADER_TEXT,
            },
        ),
        "body": BODY,
    }
)


@pytest.mark.parametrize("call", ROUTES, ids=[f"{c.method} {c.template}" for c in ROUTES])
def test_a_route_never_fails_on_our_side_and_refusals_change_nothing(
    call: RouteCall,
    app_host: DevHost,
    entra: EntraStandIn,
    config_env: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    admin_token = entra.admin_token()
    before = storage_state(config_env)
    statuses: list[int] = []

    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=(Phase.explicit, Phase.generate),  # the first failing request is reported as drawn, unshrunk
        suppress_health_check=list(HealthCheck),
    )
    @given(REQUESTS)
    def one_request(draw: dict) -> None:
        status = _request(app_host, call, admin_token, draw).status_code
        record(f"{call.method} /api/{call.template}", status)
        statuses.append(status)
        assert status < 500, f"{call.method} {call.template} answered {status} to {draw!r:.400}"

    one_request()
    errors = [(r.name, r.getMessage()[:300]) for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert errors == []
    if all(status >= 400 for status in statuses):
        assert storage_state(config_env) == before


DEEP_NAME = b'{"name":' + b"[" * 20000 + b"]" * 20000 + b"}"
DEEP_OBJECTS = b'{"a":' * 1000 + b"1" + b"}" * 1000
DAY = "from=2026-12-01&to=2026-12-01"


def test_the_cases_the_probe_found_are_clear_refusals(app_host: DevHost, entra: EntraStandIn) -> None:
    """Issue 15's probe: deep nesting on the write routes and the device-test result, `²` as a number, and
    an endpoint id no table key can hold."""
    admin = {"Authorization": f"Bearer {entra.admin_token()}", "Content-Type": "application/json"}
    secret = base64.b64decode(os.environ["CONTEXT_TOKEN_SECRET"])
    device = {"X-Context-Token": context_token.sign("ep-1", DEVICE_TEST_PURPOSE, secret)}
    cases = {
        "create organisation": ("POST", "/api/config/organisations", admin, DEEP_NAME),
        "update organisation": ("PATCH", "/api/config/organisations/o1", admin, DEEP_NAME),
        "device-test result": ("POST", "/api/devicetest/result", device, DEEP_OBJECTS),
        "sms report": ("GET", "/api/reports/endpoints/e1/sms?from=2026-12-01&to=2026-12-01&limit=%C2%B2", admin, None),
        "visits report": (
            "GET",
            "/api/reports/endpoints/e1/visits?from=2026-12-01&to=2026-12-01&limit=%C2%B2",
            admin,
            None,
        ),
        "ping": ("GET", "/api/devicetest/ping?bytes=%C2%B2", device, None),
        "hl7 with a slash": ("POST", "/api/hl7/..%2Fx", {}, b"MSH|^~\\&|A\r"),
    }
    statuses = {
        what: requests.request(method, f"{app_host.base_url}{path}", headers=headers, data=body, timeout=60).status_code
        for what, (method, path, headers, body) in cases.items()
    }
    assert {what: status for what, status in statuses.items() if status >= 500} == {}
    assert set(statuses.values()) <= {400, 401, 403, 404}
