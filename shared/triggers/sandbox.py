"""`GET /api/sandbox/meetings/{id}`: the sandbox's stand-in for a Teams meeting, served only on localhost."""

from __future__ import annotations

import html
import re

import azure.functions as func

from shared import bootstrap
from shared.adapters.sandbox_meetings import SANDBOX_MEETING_ROUTE
from shared.errors import NotFoundError
from shared.triggers.http import HttpBlueprint
from shared.triggers.pages import html_response, layout, person_errors

bp = HttpBlueprint()

_MEETING_ID = re.compile(r"[0-9a-f]{64}")


@bp.route(route=SANDBOX_MEETING_ROUTE + "/{meeting_id}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@person_errors
def get_sandbox_meeting(req: func.HttpRequest) -> func.HttpResponse:
    meeting_id = req.route_params.get("meeting_id", "")
    if not bootstrap.sandbox_allowed() or not _MEETING_ID.fullmatch(meeting_id):
        raise NotFoundError("No such sandbox meeting.")
    role = req.params.get("as")
    if role == "provider":
        state = "You are in the meeting as its organiser; patients wait in the lobby until you admit them."
    elif role == "patient":
        state = "You are in the lobby. The clinician will let you in shortly."
    else:
        state = "In Teams, the organisation's people go straight in and patients wait in the lobby."
    body = (
        f"<p>Sandbox meeting <code>{html.escape(meeting_id[:12])}</code>: this page stands in for a Teams "
        "meeting when the connector runs locally (MEETING_PROVIDER=sandbox).</p>"
        f'<p id="state">{html.escape(state)}</p>'
        '<p><a class="button" href="?as=provider">Join as clinician</a>'
        '<a class="button" href="?as=patient">Join as patient</a></p>'
    )
    return html_response(layout("Virtual visit (sandbox)", body))
