"""`GET /api/.well-known/jwks.json`: our public keys, which Epic uses to verify our client assertions."""

from __future__ import annotations

import azure.functions as func

from shared import bootstrap
from shared.triggers.http import HttpBlueprint, api_errors, json_response

bp = HttpBlueprint()


@bp.route(route=".well-known/jwks.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@api_errors
def get_jwks(req: func.HttpRequest) -> func.HttpResponse:
    keys = [key.public_jwk() for key in bootstrap.get_signing_keys()]
    # Public and stable: let Epic cache it for a while, but pick up a rotation within the hour.
    response = json_response({"keys": keys})
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
