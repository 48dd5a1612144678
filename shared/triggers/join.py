"""`GET /api/join/{token}`: the patient's SMS link; redirects to the visit's meeting or says what to do."""

from __future__ import annotations

from datetime import UTC, datetime

import azure.functions as func

from shared import bootstrap
from shared.errors import JoinLinkInvalidError
from shared.lazy import lazy_import
from shared.triggers.http import HttpBlueprint
from shared.triggers.pages import invalid_link_page, person_errors, redirect

join = lazy_import("shared.services.join")

bp = HttpBlueprint()


@bp.route(route="join/{token}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@person_errors
def join_visit_by_link(req: func.HttpRequest) -> func.HttpResponse:
    token = req.route_params.get("token", "")
    try:
        meeting = join.join_visit(
            bootstrap.get_join_tokens(),
            bootstrap.get_storage(),
            bootstrap.get_meeting_service(),
            token,
            datetime.now(UTC),
        )
    except JoinLinkInvalidError:
        return invalid_link_page()
    return redirect(meeting.join_url)
