"""The patient's SMS link, `/api/join#<token>`: a tiny page posts the token, and we redirect to the visit's meeting.

Why a fragment: the Functions host records every HTTP request's URL path in Application Insights (request
telemetry `url` and the `HttpPath` property; it strips only the query string, unless host.json sets
`logging.applicationInsights.enableQueryStringTracing`: Azure/azure-webjobs-sdk,
src/Microsoft.Azure.WebJobs.Logging.ApplicationInsights/Initializers/WebJobsTelemetryInitializer.cs). A
token in the path would be in telemetry; a fragment never leaves the phone, and the POST body that carries
it is not recorded. `GET /api/join/{token}` still answers links sent before this change.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs

import azure.functions as func

from shared import bootstrap
from shared.errors import JoinLinkInvalidError
from shared.lazy import lazy_import
from shared.triggers.http import HttpBlueprint
from shared.triggers.pages import html_response, invalid_link_page, layout, new_nonce, person_errors, redirect

join = lazy_import("shared.services.join")

bp = HttpBlueprint()

ASSETS = Path(__file__).parent / "assets"
MAX_FORM_BYTES = 512
"""A join form holds one token of a few dozen characters; anything bigger is not one of ours."""


@functools.cache
def _asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


@bp.route(route="join", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@person_errors
def open_join_page(req: func.HttpRequest) -> func.HttpResponse:
    """The page behind the SMS link: its script posts the fragment's token to `join_visit`."""
    nonce = new_nonce()
    return html_response(
        layout("Your video visit", _asset("join.html"), script=_asset("join.js"), nonce=nonce), nonce=nonce
    )


@bp.route(route="join", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@person_errors
def join_visit(req: func.HttpRequest) -> func.HttpResponse:
    """The join page's form (`token=<token>`): 302 to the meeting, or the one invalid-link page."""
    body = req.get_body() or b""
    if len(body) > MAX_FORM_BYTES:
        return invalid_link_page()
    try:
        token = parse_qs(body.decode("ascii"), max_num_fields=1).get("token", [""])[0]
    except (UnicodeDecodeError, ValueError):
        return invalid_link_page()
    return _join(token)


@bp.route(route="join/{token}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@person_errors
def join_visit_by_link(req: func.HttpRequest) -> func.HttpResponse:
    """Links sent before the token moved to the fragment (their path reaches request telemetry)."""
    return _join(req.route_params.get("token", ""))


def _join(token: str) -> func.HttpResponse:
    try:
        meeting = join.join_visit(
            bootstrap.get_join_tokens(),
            bootstrap.get_storage(),
            bootstrap.get_meeting_service(),
            bootstrap.get_directory(),
            token,
            datetime.now(UTC),
        )
    except JoinLinkInvalidError:
        return invalid_link_page()
    return redirect(meeting.join_url)
