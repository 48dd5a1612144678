"""`GET /api/health`, called through the app object as the Functions worker calls it."""

from __future__ import annotations

import json
import re

import azure.functions as func
import pytest

from shared.devhost.azurite import free_port
from tests.appcalls import call


def health() -> func.HttpResponse:
    return call("get_health", func.HttpRequest("GET", "http://localhost/api/health", body=b""))


@pytest.mark.usefixtures("app_env")
def test_health_reports_every_account_and_the_version() -> None:
    response = health()
    body = json.loads(response.get_body())
    assert response.status_code == 200
    assert body["status"] == "ok"
    assert body["version"]
    assert body["storage"] == {"control": "ok", "geos": {"US": "ok", "EU": "ok", "APAC": "ok"}}


def test_health_names_the_geography_that_does_not_answer(app_env: dict[str, str], monkeypatch) -> None:
    # Point EU at ports where nothing listens.
    dead = re.sub(r"127\.0\.0\.1:\d+", f"127.0.0.1:{free_port()}", app_env["GEO_EU_STORAGE"])
    monkeypatch.setenv("GEO_EU_STORAGE", dead)

    response = health()
    text = response.get_body().decode()
    assert response.status_code == 503
    assert json.loads(text)["storage"]["geos"] == {"US": "ok", "EU": "unavailable", "APAC": "ok"}
    assert "AccountKey" not in text
    assert "127.0.0.1" not in text


def test_a_missing_setting_is_a_problem_that_names_it(app_env: dict[str, str], monkeypatch) -> None:
    monkeypatch.delenv("CONTROL_STORAGE")
    response = health()
    body = json.loads(response.get_body())
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    assert "CONTROL_STORAGE" in body["detail"]
    assert body["reference"]


def test_unknown_routes_get_json_404() -> None:
    response = call("route_not_found", func.HttpRequest("GET", "http://localhost/api/nope", body=b""))
    assert response.status_code == 404
    assert json.loads(response.get_body())["code"] == "not_found"


def test_liveness_answers_without_reading_any_setting_or_storage(monkeypatch: pytest.MonkeyPatch) -> None:
    """The platform's health check: even with storage unreachable and settings absent, the instance is live."""
    for name in ("GEOS", "CONTROL_STORAGE", "GEO_EU_STORAGE"):
        monkeypatch.delenv(name, raising=False)
    response = call("get_liveness", func.HttpRequest("GET", "http://localhost/api/live", body=b""))
    assert response.status_code == 200
    assert json.loads(response.get_body()) == {"status": "live"}
