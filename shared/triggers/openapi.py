"""`GET /api/openapi.json`: the OpenAPI 3 document of our HTTP API, kept in the repo as shared/openapi.json."""

from __future__ import annotations

import functools
from pathlib import Path

import azure.functions as func

from shared.triggers.http import HttpBlueprint

OPENAPI_FILE = Path(__file__).resolve().parent.parent / "openapi.json"

bp = HttpBlueprint()


@functools.cache
def openapi_text() -> str:
    return OPENAPI_FILE.read_text(encoding="utf-8")


@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def get_openapi(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(
        openapi_text(), mimetype="application/json", headers={"Cache-Control": "public, max-age=300"}
    )
