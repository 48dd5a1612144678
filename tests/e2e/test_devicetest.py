"""The device test over real HTTP: the page in headless Chromium (camera and microphone allowed, and
denied), and the result API with good and bad input."""

from __future__ import annotations

import base64
import json
import os
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient

import function_app
from shared import bootstrap
from shared.devhost.host import DevHost
from shared.domain import context_token
from shared.domain.integration_records import DEVICE_TEST_PURPOSE
from shared.services.device_test import DEVICE_TESTS_TABLE
from tests.browser import BROWSER_ARGS as HEADLESS_ARGS
from tests.hl7_support import seed_sender

BROWSER_ARGS = [*HEADLESS_ARGS, "--use-fake-device-for-media-stream"]
SECRET = secrets.token_bytes(32)


@pytest.fixture
def host(app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[DevHost]:
    monkeypatch.setenv("CONTEXT_TOKEN_SECRET", base64.b64encode(SECRET).decode())
    bootstrap.reset()
    host = DevHost(function_app.app, port=0, env=dict(os.environ), timers=False)
    host.start()
    yield host
    host.stop()


def device_test_token(endpoint_id: str, *, purpose: str = DEVICE_TEST_PURPOSE, secret: bytes = SECRET) -> str:
    return context_token.sign(endpoint_id, purpose, secret)


def stored_results(app_env: dict[str, str], endpoint_id: str) -> list[dict]:
    table = TableClient.from_connection_string(app_env["CONTROL_STORAGE"], DEVICE_TESTS_TABLE)
    try:
        return list(table.query_entities("PartitionKey eq @p", parameters={"p": endpoint_id}))
    except ResourceNotFoundError:  # the table does not exist yet
        return []


def run_page(host: DevHost, chromium: Path, token: str, *, allow_media: bool) -> tuple[str, list[str]]:
    """Open the page, click through it, answer "yes" to the test sound; returns the verdict and problems."""
    from playwright.sync_api import sync_playwright

    args = [*BROWSER_ARGS, "--use-fake-ui-for-media-stream"] if allow_media else BROWSER_ARGS
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=args)
        try:
            context = browser.new_context()
            if allow_media:
                context.grant_permissions(["camera", "microphone"], origin=host.base_url)
            else:
                context.clear_permissions()  # and no fake UI: the permission prompt is dismissed, i.e. denied
            page = context.new_page()
            page.goto(f"{host.base_url}/api/devicetest?ctx={token}")
            page.click("#start")
            page.wait_for_selector("#speaker-play:visible", timeout=30_000)
            page.click("#speaker-play")
            page.click("#speaker-yes")
            page.wait_for_selector("#result:not(:empty)", timeout=30_000)
            return page.text_content("#result"), page.locator("#problems li").all_text_contents()
        finally:
            browser.close()


def test_with_camera_and_microphone_allowed_the_device_is_ready(
    host: DevHost, chromium: Path, app_env: dict[str, str]
) -> None:
    endpoint_id = f"ep-{uuid.uuid4().hex[:8]}"
    verdict, problems = run_page(host, chromium, device_test_token(endpoint_id), allow_media=True)

    assert verdict == "Your device is ready for your visit.", problems
    [stored] = stored_results(app_env, endpoint_id)
    result = json.loads(stored["Result"])
    assert (result["camera"], result["microphone"], result["speaker"]) == ("ok", "ok", "ok")
    assert result["round_trip_ms"] > 0
    assert stored["Passed"] is True


def test_with_camera_and_microphone_denied_the_page_says_how_to_allow_them(
    host: DevHost, chromium: Path, app_env: dict[str, str]
) -> None:
    endpoint_id = f"ep-{uuid.uuid4().hex[:8]}"
    verdict, problems = run_page(host, chromium, device_test_token(endpoint_id), allow_media=False)

    assert verdict == "Your device is not ready yet."
    assert any(problem.startswith("Camera: allow it") for problem in problems)
    assert any(problem.startswith("Microphone: allow it") for problem in problems)
    [stored] = stored_results(app_env, endpoint_id)
    result = json.loads(stored["Result"])
    assert (result["camera"], result["microphone"]) == ("denied", "denied")
    assert stored["Passed"] is False


def test_the_page_refuses_a_bad_or_foreign_token_with_a_friendly_page(host: DevHost) -> None:
    for token in ("garbage", device_test_token("ep-1", purpose="launch"), device_test_token("ep-1", secret=b"x" * 32)):
        answer = requests.get(f"{host.base_url}/api/devicetest", params={"ctx": token}, timeout=10)
        assert answer.status_code == 401
        assert "This link does not work" in answer.text
        assert "Support reference" in answer.text
        assert token not in answer.text


def test_an_expired_token_is_refused(host: DevHost) -> None:
    token = context_token.sign("ep-1", DEVICE_TEST_PURPOSE, SECRET, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert requests.get(f"{host.base_url}/api/devicetest", params={"ctx": token}, timeout=10).status_code == 401


def test_a_malformed_result_is_refused_and_nothing_is_stored(host: DevHost, app_env: dict[str, str]) -> None:
    endpoint_id = f"ep-{uuid.uuid4().hex[:8]}"
    headers = {"X-Context-Token": device_test_token(endpoint_id)}
    good = {"camera": "ok", "microphone": "ok", "speaker": "ok", "round_trip_ms": 20, "download_kbps": 9000}
    for body in (b"not json", json.dumps({**good, "upload_kbps": -1}), json.dumps({**good, "camera": "maybe"})):
        answer = requests.post(f"{host.base_url}/api/devicetest/result", data=body, headers=headers, timeout=10)
        assert answer.status_code == 400
        assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert stored_results(app_env, endpoint_id) == []

    answer = requests.post(f"{host.base_url}/api/devicetest/result", json={**good, "upload_kbps": 9000}, timeout=10)
    assert answer.status_code == 401  # no token: nothing stored either
    assert stored_results(app_env, endpoint_id) == []


@pytest.mark.parametrize("enabled", [True, False])
def test_a_result_is_written_back_only_where_the_endpoint_enables_it(
    host: DevHost, app_env: dict[str, str], enabled: bool
) -> None:
    endpoint_id = seed_sender("US", ehr_write_back=enabled).endpoint.id
    result = {"camera": "ok", "microphone": "ok", "speaker": "not_heard", "round_trip_ms": 20}
    result |= {"download_kbps": 9000, "upload_kbps": 9000}
    answer = requests.post(
        f"{host.base_url}/api/devicetest/result",
        json=result,
        headers={"X-Context-Token": device_test_token(endpoint_id)},
        timeout=10,
    )
    assert answer.status_code == 201
    assert answer.json()["passed"] is False
    assert len(stored_results(app_env, endpoint_id)) == 1
    recorded = TableClient.from_connection_string(app_env["CONTROL_STORAGE"], "ehrwritebacks")
    calls = list(recorded.query_entities("PartitionKey eq @p", parameters={"p": endpoint_id}))
    if not enabled:
        assert calls == []
        return
    [call] = calls
    assert call["RowKey"] == answer.json()["id"]
    assert json.loads(call["Payload"])["speaker"] == "not_heard"


def test_ping_serves_and_counts_samples_within_limits(host: DevHost) -> None:
    headers = {"X-Context-Token": device_test_token("ep-1")}
    url = f"{host.base_url}/api/devicetest/ping"
    assert len(requests.get(url, params={"bytes": 1000}, headers=headers, timeout=10).content) == 1000
    assert requests.post(url, data=b"x" * 500, headers=headers, timeout=10).json() == {"received": 500}
    assert requests.get(url, params={"bytes": 10**9}, headers=headers, timeout=10).status_code == 400
    assert requests.get(url, timeout=10).status_code == 401
