"""SMART on FHIR EHR launch from Epic: `/api/launch/provider|patient`, Epic's callback, the provider's sign-in.

Every answer is a redirect (to Epic, Microsoft 365 or the meeting) or a page for a person; see
`shared.services.launch` for the flow.
"""

from __future__ import annotations

from datetime import UTC, datetime

import azure.functions as func

from shared import bootstrap
from shared.errors import InvalidRequestError, MeetingNotOpenedError
from shared.lazy import lazy_import
from shared.triggers.http import HttpBlueprint
from shared.triggers.pages import message_page, person_errors, redirect

launch = lazy_import("shared.services.launch")
launch_domain = lazy_import("shared.domain.launch")

bp = HttpBlueprint()

CALLBACK_ROUTE = "launch/callback"
SIGN_IN_ROUTE = "launch/signin"


def launch_urls() -> launch.LaunchUrls:
    """Our redirect URIs: register the callback on the Epic app and the sign-in on the Entra app, as written."""
    base = f"{bootstrap.get_settings().public_base_url}/api"
    return launch.LaunchUrls(
        callback=f"{base}/{CALLBACK_ROUTE}",
        sign_in=f"{base}/{SIGN_IN_ROUTE}",
        loopback_http=bootstrap.get_settings().loopback_http,
    )


@bp.route(route="launch/provider", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@person_errors
def launch_provider_visit(req: func.HttpRequest) -> func.HttpResponse:
    return _start(req, launch_domain.Role.PROVIDER)


@bp.route(route="launch/patient", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@person_errors
def launch_patient_visit(req: func.HttpRequest) -> func.HttpResponse:
    return _start(req, launch_domain.Role.PATIENT)


@bp.route(route=CALLBACK_ROUTE, methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@person_errors
def complete_visit_launch(req: func.HttpRequest) -> func.HttpResponse:
    _refuse_error_answer(req, "Epic")
    try:
        target = launch.complete_launch(
            bootstrap.get_launch_ports(), launch_urls(), req.params.get("state", ""), req.params.get("code", ""), _now()
        )
    except MeetingNotOpenedError:
        return not_opened_page()
    return redirect(target)


@bp.route(route=SIGN_IN_ROUTE, methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@person_errors
def complete_provider_sign_in(req: func.HttpRequest) -> func.HttpResponse:
    _refuse_error_answer(req, "Microsoft 365")
    target = launch.complete_sign_in(
        bootstrap.get_launch_ports(), launch_urls(), req.params.get("state", ""), req.params.get("code", ""), _now()
    )
    return redirect(target)


def _start(req: func.HttpRequest, role: object) -> func.HttpResponse:
    return redirect(launch.start_launch(bootstrap.get_launch_ports(), launch_urls(), role, req.params, _now()))


def _refuse_error_answer(req: func.HttpRequest, who: str) -> None:
    """An OAuth error answer (`?error=...`, e.g. the user cancelled): a page, and the state stays unused."""
    if req.params.get("error"):
        raise InvalidRequestError(f"{who} did not complete the sign-in.")


def not_opened_page() -> func.HttpResponse:
    """A patient launched before anyone could open the meeting: no auto-refresh, the launch cannot be replayed."""
    return message_page(
        404,
        "Your visit has not opened yet",
        ["Your clinician has not opened this visit yet. Please go back and start the visit again in a few minutes."],
    )


def _now() -> datetime:
    return datetime.now(UTC)
