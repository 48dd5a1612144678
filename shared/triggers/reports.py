"""`/api/reports/...`: admin reports (Entra-authenticated like the configuration API), as JSON or CSV."""

from __future__ import annotations

from typing import TYPE_CHECKING

import azure.functions as func

from shared import bootstrap
from shared.lazy import lazy_import
from shared.triggers.config_api import caller_of
from shared.triggers.http import HttpBlueprint, api_errors, json_response

if TYPE_CHECKING:
    from shared.services.reports import ReportKind, ReportPage

reports = lazy_import("shared.services.reports")
report_texts = lazy_import("shared.domain.reports")

bp = HttpBlueprint()
CONTINUATION_HEADER = "X-Continuation-Token"


@bp.route(route="reports/endpoints/{endpointId}/sms", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@api_errors
def get_sms_report(req: func.HttpRequest) -> func.HttpResponse:
    return report_response(req, _page(reports.SMS, req))


@bp.route(route="reports/endpoints/{endpointId}/visits", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@api_errors
def get_visits_report(req: func.HttpRequest) -> func.HttpResponse:
    return report_response(req, _page(reports.VISITS, req))


def _page(kind: ReportKind, req: func.HttpRequest) -> ReportPage:
    return reports.endpoint_report(
        kind,
        bootstrap.get_config_store(),
        bootstrap.get_storage(),
        caller_of(req),
        req.route_params["endpointId"],
        req.params,
    )


def report_response(req: func.HttpRequest, page: ReportPage) -> func.HttpResponse:
    """JSON `{items, continuation}`, or CSV for `Accept: text/csv` with the token in X-Continuation-Token."""
    if "text/csv" in req.headers.get("Accept", ""):
        headers = {
            "Cache-Control": "no-store",
            **({CONTINUATION_HEADER: page.continuation} if page.continuation else {}),
        }
        body = report_texts.to_csv(page.columns, page.items)
        return func.HttpResponse(body, mimetype="text/csv", charset="utf-8", headers=headers)
    return json_response({"items": page.items, "continuation": page.continuation})
