"""`GET /api/live` (the platform's health check), `GET /api/health` (the operator's) and the JSON 404.

Two checks because they answer different questions. The platform takes an instance out of rotation when
its health check fails, so `live` says only that this instance's host and worker serve requests, and reads
nothing. `health` says whether every storage account answers; one geography's outage must not pull every
instance, and with them every other geography, out of rotation.
"""

from __future__ import annotations

import azure.functions as func

from shared import bootstrap
from shared.lazy import lazy_import
from shared.triggers.http import HttpBlueprint, api_errors, json_response, problem

health = lazy_import("shared.services.health")

bp = HttpBlueprint()


@bp.route(route="live", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def get_liveness(req: func.HttpRequest) -> func.HttpResponse:
    return json_response({"status": "live"})


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@api_errors
def get_health(req: func.HttpRequest) -> func.HttpResponse:
    storage = bootstrap.get_storage()
    report = health.check_health(storage.control, {geo: storage.for_geo(geo) for geo in storage.geos})
    return json_response(report.as_dict(), status=200 if report.healthy else 503)


@bp.route(
    route="{*path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
    auth_level=func.AuthLevel.ANONYMOUS,
)
def route_not_found(req: func.HttpRequest) -> func.HttpResponse:
    """Catch-all with the lowest route precedence: unknown paths get JSON, not the host's empty 404."""
    return problem(404, "not_found", "No such endpoint.")
