"""What every HTTP trigger shares: the security headers, JSON and problem+json responses, and one
error-to-status map.

`HttpBlueprint` is the one place the security headers are set: every route registered on it answers
with `nosniff`, `X-Frame-Options: DENY`, a CSP with `frame-ancestors 'none'` (a page's own policy is kept
and completed) and, when the app is served over https, HSTS.

Errors become RFC 9457 problem documents with a stable `code`, a human `detail` and a `reference`
that also appears in the log line, so support can find the request without the caller sending
anything sensitive. Unexpected exceptions never leak a stack trace to the caller.
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

import azure.functions as func

from shared import bootstrap
from shared.domain.json_body import parse_json_object
from shared.errors import (
    ConflictError,
    ConnectorError,
    ForbiddenError,
    InvalidRequestError,
    NotAuthorisedError,
    NotFoundError,
    PayloadTooLargeError,
    PreconditionFailedError,
    SettingsError,
    UpstreamError,
)
from shared.log_safety import loggable

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

_STATUS_BY_ERROR: tuple[tuple[type[ConnectorError], int], ...] = (
    (PreconditionFailedError, 412),
    (ConflictError, 409),
    (NotFoundError, 404),
    (ForbiddenError, 403),
    (NotAuthorisedError, 401),
    (PayloadTooLargeError, 413),
    (InvalidRequestError, 400),
    (SettingsError, 500),
)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(body, separators=(",", ":")),
        status_code=status,
        mimetype="application/json",
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def problem(
    status: int, code: str, detail: str, reference: str | None = None, headers: dict[str, str] | None = None
) -> func.HttpResponse:
    body = {"type": "about:blank", "title": code.replace("_", " "), "status": status, "code": code, "detail": detail}
    if reference:
        body["reference"] = reference
    return func.HttpResponse(
        json.dumps(body),
        status_code=status,
        mimetype=PROBLEM_JSON,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def status_of(error: ConnectorError) -> int:
    """The HTTP status of one of our errors; upstream failures are 503 when retryable, else 502."""
    if isinstance(error, UpstreamError):
        return 503 if error.retryable else 502
    return next((status for kind, status in _STATUS_BY_ERROR if isinstance(error, kind)), 500)


HttpHandler = Callable[[func.HttpRequest], func.HttpResponse]

NO_CONTENT_POLICY = "default-src 'none'; frame-ancestors 'none'"
"""The CSP of every response that is not a page: nothing may load from it, and nothing may frame it."""
HSTS = "max-age=31536000; includeSubDomains"
"""One year, as RFC 6797 section 11.2 suggests for a site that is https-only."""


class HttpBlueprint(func.Blueprint):
    """A Blueprint whose every HTTP route answers with the security headers (see the module docstring)."""

    def route(self, *args: Any, **kwargs: Any) -> Callable[..., Any]:
        register = super().route(*args, **kwargs)
        return lambda handler: register(_with_security_headers(handler))


def _with_security_headers(handler: HttpHandler) -> HttpHandler:
    @functools.wraps(handler)
    def wrapper(req: func.HttpRequest) -> func.HttpResponse:
        return add_security_headers(handler(req))

    return wrapper


def add_security_headers(response: func.HttpResponse) -> func.HttpResponse:
    """`response` with the headers every response carries; a CSP it has already gets `frame-ancestors 'none'`."""
    headers = response.headers
    policy = headers.get("Content-Security-Policy")
    if policy is None:
        headers["Content-Security-Policy"] = NO_CONTENT_POLICY
    elif "frame-ancestors" not in policy:
        headers["Content-Security-Policy"] = f"{policy}; frame-ancestors 'none'"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    if _served_over_https():
        headers["Strict-Transport-Security"] = HSTS
    return response


def _served_over_https() -> bool:
    """Whether PUBLIC_BASE_URL is https. A misconfigured app answers its error without HSTS, not with a crash."""
    try:
        return bootstrap.get_settings().public_base_url.startswith("https://")
    except SettingsError:
        return False


def api_errors(handler: HttpHandler) -> HttpHandler:
    """Map exceptions raised by an API handler to problem+json responses, logged with a reference."""

    @functools.wraps(handler)
    def wrapper(req: func.HttpRequest) -> func.HttpResponse:
        try:
            return handler(req)
        except ConnectorError as error:
            reference = uuid.uuid4().hex[:12]
            status = status_of(error)
            log = logger.error if status >= 500 else logger.info
            log("%s %s -> %d %s (reference %s)", req.method, _path(req), status, error.code, reference)
            # RFC 9110: a 401 names the scheme the caller should use.
            challenge = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            return problem(status, error.code, error.message, reference, challenge)
        except Exception:
            reference = uuid.uuid4().hex[:12]
            logger.exception("%s %s -> 500 unexpected (reference %s)", req.method, _path(req), reference)
            return problem(500, "internal_error", "Something went wrong on our side.", reference)

    return wrapper


def _path(req: func.HttpRequest) -> str:
    """The request path without its query string, which may carry tokens; sanitised, since a caller chose it."""
    return loggable(req.url.split("?", 1)[0], limit=200)


MAX_JSON_BODY = 64 * 1024
"""Configuration documents are small; a certificate in Base64 is a few KiB."""


def read_json_object(req: func.HttpRequest, max_bytes: int = MAX_JSON_BODY) -> dict[str, Any]:
    """The request body as a JSON object (`shared.domain.json_body`: size, depth, strict JSON). Call it only
    once the caller is known to be allowed. Raises PayloadTooLargeError (413), InvalidRequestError (400)."""
    return parse_json_object(req.get_body() or b"", max_bytes=max_bytes)
