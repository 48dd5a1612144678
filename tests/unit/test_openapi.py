"""Every HTTP route the app serves is in the OpenAPI document, and the document names no route we lack."""

from __future__ import annotations

import json

import function_app
from shared.devhost.functions import read_functions
from shared.triggers.openapi import OPENAPI_FILE

CATCH_ALL = "{*path}"
"""route_not_found answers 404 for unknown routes: not an operation, so explicitly left out."""


def served() -> set[tuple[str, str]]:
    routes = set()
    for function in read_functions(function_app.app, {}).http:
        route = function.trigger["route"]
        if route == CATCH_ALL:
            continue
        for method in function.trigger["methods"]:
            routes.add((str(getattr(method, "value", method)).lower(), f"/api/{route}"))
    return routes


def documented() -> set[tuple[str, str]]:
    document = json.loads(OPENAPI_FILE.read_text())
    return {(method, path) for path, item in document["paths"].items() for method in item}


def test_every_served_route_is_documented_and_vice_versa() -> None:
    assert served() - documented() == set(), "routes missing from shared/openapi.json"
    assert documented() - served() == set(), "documented routes the app does not serve"


def test_operation_ids_are_the_function_names() -> None:
    document = json.loads(OPENAPI_FILE.read_text())
    names = {f.name for f in read_functions(function_app.app, {}).http}
    ids = {op["operationId"] for item in document["paths"].values() for op in item.values()}
    assert ids <= names


def test_the_integration_records_name_routes_the_app_serves() -> None:
    from shared.domain.integration_records import DEVICE_TEST_PATH, PATIENT_LAUNCH_PATH, PROVIDER_LAUNCH_PATH

    for path in (PROVIDER_LAUNCH_PATH, PATIENT_LAUNCH_PATH, DEVICE_TEST_PATH):
        assert ("get", path) in served()
