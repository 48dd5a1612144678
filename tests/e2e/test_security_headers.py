"""Every route answers with the security headers, set in one place (issue 15.3): `nosniff` on every
response, no framing (CSP `frame-ancestors 'none'` and `X-Frame-Options: DENY`) and HSTS when the app is
served over https. Pages keep their own CSP (script nonces) and gain `frame-ancestors`.
"""

from __future__ import annotations

import base64
import os

import pytest
import requests

from shared import bootstrap
from shared.devhost.host import DevHost
from shared.domain import context_token
from shared.domain.integration_records import DEVICE_TEST_PURPOSE
from tests.routes import app_routes


def _refuses_framing(response: requests.Response) -> bool:
    policy = response.headers.get("Content-Security-Policy", "")
    return "frame-ancestors 'none'" in policy and response.headers.get("X-Frame-Options") == "DENY"


def _responses_of_every_route(host: DevHost) -> list[tuple[str, requests.Response]]:
    return [
        (
            f"{call.method} {call.template}",
            requests.request(
                call.method, f"{host.base_url}{call.path('x')}", allow_redirects=False, timeout=30, data=b"{}"
            ),
        )
        for call in app_routes()
    ]


def test_every_route_sends_nosniff_and_refuses_framing(app_host: DevHost) -> None:
    answers = _responses_of_every_route(app_host)
    missing = [
        (route, answer.status_code)
        for route, answer in answers
        if answer.headers.get("X-Content-Type-Options") != "nosniff" or not _refuses_framing(answer)
    ]
    assert missing == []
    assert not any("Strict-Transport-Security" in answer.headers for _, answer in answers)  # served over http


def test_over_https_every_route_sends_hsts(app_host: DevHost, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://connector.example")
    bootstrap.reset()
    without = [
        route
        for route, answer in _responses_of_every_route(app_host)
        if "max-age=" not in answer.headers.get("Strict-Transport-Security", "")
    ]
    assert without == []


def test_the_graph_validation_echo_is_not_sniffed(app_host: DevHost) -> None:
    answer = requests.post(
        f"{app_host.base_url}/api/events/graph", params={"validationToken": "<script>alert(1)</script>"}, timeout=10
    )
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain")
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_the_device_test_page_cannot_be_framed_and_keeps_its_script_nonce(app_host: DevHost) -> None:
    secret = base64.b64decode(os.environ["CONTEXT_TOKEN_SECRET"])
    token = context_token.sign("ep-1", DEVICE_TEST_PURPOSE, secret)
    page = requests.get(f"{app_host.base_url}/api/devicetest", params={"ctx": token}, timeout=10)
    assert page.status_code == 200
    assert "camera" in page.text
    assert _refuses_framing(page)
    assert "script-src 'nonce-" in page.headers["Content-Security-Policy"]
