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
import html
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs

import azure.functions as func

from shared import bootstrap
from shared.errors import JoinLinkInvalidError
from shared.lazy import lazy_import
from shared.triggers.http import HttpBlueprint
from shared.triggers.pages import (
    html_response,
    invalid_link_page,
    layout,
    message_page,
    new_nonce,
    person_errors,
    redirect,
)

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
    settings = bootstrap.get_settings()
    try:
        answer = join.join_visit(
            bootstrap.get_join_tokens(),
            bootstrap.get_storage(),
            bootstrap.get_meeting_service(),
            bootstrap.get_directory(),
            token,
            datetime.now(UTC),
            visits=bootstrap.get_visit_log(),
            region=settings.default_phone_region,
            device_test_secret=settings.context_token_secret,
        )
    except JoinLinkInvalidError:
        return invalid_link_page()
    if isinstance(answer, join.WaitingRoom):
        return _waiting_room(answer)
    if isinstance(answer, join.VisitOver):
        return visit_over_page(answer.organisation)
    return redirect(answer.join_url)


def _waiting_room(room: join.WaitingRoom) -> func.HttpResponse:
    """The visit time, a countdown to the meeting's opening, and the device test."""
    opens_minutes = int((room.starts_at - room.opens_at).total_seconds() // 60)
    device_test = (
        f'<p><a class="button" href="{html.escape(room.device_test_url, quote=True)}">Test your camera, microphone '
        "and connection</a></p>"
        if room.device_test_url
        else ""
    )
    body = (
        _asset("waiting.html")
        .replace("__ORG__", html.escape(room.organisation))
        .replace("__WHEN__", html.escape(room.visit_time))
        .replace("__OPENS__", room.opens_at.isoformat())
        .replace("__OPENS_MINUTES__", str(opens_minutes))
        .replace("__DEVICE_TEST__", device_test)
    )
    nonce = new_nonce()
    return html_response(layout("Your visit opens soon", body, script=_asset("waiting.js"), nonce=nonce), nonce=nonce)


def visit_over_page(organisation: str) -> func.HttpResponse:
    """A link whose visit has taken place: say so, and whom to contact (no visit details)."""
    return message_page(
        410,
        "This visit is over",
        [
            "The video visit this link was for has taken place, so the link does not open it any more.",
            f"If you need another appointment or have a question about your visit, please contact {organisation}.",
        ],
    )
