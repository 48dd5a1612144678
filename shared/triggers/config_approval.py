"""Approval of FHIR endpoints by their named approver, after a sign-in to Epic (SMART, PKCE)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import azure.functions as func

from shared import bootstrap
from shared.errors import InvalidRequestError
from shared.lazy import lazy_import
from shared.triggers.config_api import ANONYMOUS, caller_of, now, versioned_response
from shared.triggers.config_documents import endpoint_document
from shared.triggers.http import HttpBlueprint, api_errors, json_response
from shared.triggers.portal_web import back_to, portal_page

if TYPE_CHECKING:
    from shared.adapters.config_store import Validation

approval = lazy_import("shared.services.approval")

bp = HttpBlueprint()
CALLBACK_ROUTE = "config/approval/callback"


def redirect_uri() -> str:
    """Where Epic sends the approver back: must be registered on our Epic app as it is written here."""
    return f"{bootstrap.get_settings().public_base_url}/api/{CALLBACK_ROUTE}"


@bp.route(route="config/endpoints/{endpointId}/validation", methods=["POST"], auth_level=ANONYMOUS)
@api_errors
def start_epic_validation(req: func.HttpRequest) -> func.HttpResponse:
    started = approval.start_validation(
        bootstrap.get_config_store(),
        bootstrap.get_smart_client(),
        caller_of(req),
        req.route_params["endpointId"],
        redirect_uri(),
        now(),
    )
    return json_response({"authorize_url": started.authorize_url, "expires_at": started.expires_at.isoformat()})


@bp.route(route=CALLBACK_ROUTE, methods=["GET"], auth_level=ANONYMOUS)
def complete_epic_validation(req: func.HttpRequest) -> func.HttpResponse:
    """Epic's redirect: no bearer token here; the one-time state binds it to the approver and endpoint.

    A browser (it asks for HTML: the portal's "Sign in with Epic") goes back to the endpoint's portal page,
    or gets a portal page saying what went wrong; an API client gets JSON."""
    if "text/html" in req.headers.get("Accept", ""):
        return _back_to_portal(req)
    return _validated_document(req)


@api_errors
def _validated_document(req: func.HttpRequest) -> func.HttpResponse:
    validation = _complete(req)
    return json_response(
        {
            "validated": True,
            "endpoint_id": validation.endpoint_id,
            "version": validation.version,
            "approve": f"/api/config/endpoints/{validation.endpoint_id}/approve",
        }
    )


@portal_page
def _back_to_portal(req: func.HttpRequest) -> func.HttpResponse:
    validation = _complete(req)
    return back_to(f"/endpoints/{validation.endpoint_id}", "validated-with-epic")


def _complete(req: func.HttpRequest) -> Validation:
    if req.params.get("error"):
        raise InvalidRequestError("Epic did not sign the approver in; start the validation again.")
    return approval.complete_validation(
        bootstrap.get_config_store(),
        bootstrap.get_smart_client(),
        req.params.get("state", ""),
        req.params.get("code", ""),
        redirect_uri(),
        now(),
    )


@bp.route(route="config/endpoints/{endpointId}/approve", methods=["POST"], auth_level=ANONYMOUS)
@api_errors
def approve_endpoint(req: func.HttpRequest) -> func.HttpResponse:
    endpoint = approval.approve(bootstrap.get_config_store(), caller_of(req), req.route_params["endpointId"], now())
    return versioned_response(endpoint, endpoint_document)
