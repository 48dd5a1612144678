"""The device test: `GET /api/devicetest?ctx=` (the page), `GET|POST /api/devicetest/ping` (connection
samples) and `POST /api/devicetest/result`. The page's own calls carry the context token in the
`X-Context-Token` header, never in a URL that logs could keep.
"""

from __future__ import annotations

import functools
import html
import os
from datetime import UTC, datetime
from pathlib import Path

import azure.functions as func

from shared import bootstrap
from shared.errors import InvalidRequestError, NotAuthorisedError
from shared.lazy import lazy_import
from shared.triggers.http import HttpBlueprint, api_errors, json_response, read_json_object
from shared.triggers.pages import html_response, layout, new_nonce, person_errors

device_test = lazy_import("shared.services.device_test")
query_numbers = lazy_import("shared.domain.query_numbers")

bp = HttpBlueprint()

ASSETS = Path(__file__).with_name("assets")
MAX_SAMPLE_BYTES = 1024 * 1024
"""Largest connection sample either way: enough to estimate throughput, too small to abuse."""
CONTEXT_HEADER = "X-Context-Token"
MAX_RESULT_BODY = 16 * 1024
"""A result is six small fields: a few hundred bytes."""


@functools.cache
def _asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


@bp.route(route="devicetest", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@person_errors
def get_device_test_page(req: func.HttpRequest) -> func.HttpResponse:
    context_token = req.params.get("ctx", "")
    bootstrap.get_device_test_verifier().verify(context_token)
    nonce = new_nonce()
    body = _asset("devicetest.html").replace("__CTX__", html.escape(context_token, quote=True))
    return html_response(
        layout("Test your device", body, script=_asset("devicetest.js"), nonce=nonce),
        nonce=nonce,
        # The page needs the camera and microphone; nothing else may.
        headers={"Permissions-Policy": "camera=(self), microphone=(self), geolocation=()"},
    )


@bp.route(route="devicetest/ping", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@api_errors
def upload_device_test_sample(req: func.HttpRequest) -> func.HttpResponse:
    _verify(req)
    received = len(req.get_body() or b"")
    if received > MAX_SAMPLE_BYTES:
        raise InvalidRequestError(f"A connection sample is at most {MAX_SAMPLE_BYTES} bytes.")
    return json_response({"received": received})


@bp.route(route="devicetest/ping", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@api_errors
def download_device_test_sample(req: func.HttpRequest) -> func.HttpResponse:
    _verify(req)
    size = query_numbers.parse_query_number(
        req.params.get("bytes"), "bytes", minimum=0, maximum=MAX_SAMPLE_BYTES, default=0
    )
    # Random bytes: a compressing proxy must not make the link look faster than it is.
    return func.HttpResponse(
        os.urandom(size), mimetype="application/octet-stream", headers={"Cache-Control": "no-store"}
    )


@bp.route(route="devicetest/result", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@api_errors
def post_device_test_result(req: func.HttpRequest) -> func.HttpResponse:
    """The body is read only once the context token is verified (inside `record_device_test`)."""
    storage = bootstrap.get_storage()
    result_id, result = device_test.record_device_test(
        storage,
        bootstrap.get_config_store(),
        bootstrap.get_ehr_write_back(),
        bootstrap.get_device_test_verifier(),
        req.headers.get(CONTEXT_HEADER, ""),
        functools.partial(read_json_object, req, MAX_RESULT_BODY),
        datetime.now(UTC),
    )
    return json_response({"id": result_id, **result.as_dict()}, status=201)


def _verify(req: func.HttpRequest) -> str:
    token = req.headers.get(CONTEXT_HEADER)
    if not token:
        raise NotAuthorisedError(f"The {CONTEXT_HEADER} header is missing.")
    return bootstrap.get_device_test_verifier().verify(token)
