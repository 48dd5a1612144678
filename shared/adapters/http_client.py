"""Plain HTTPS calls to identity providers and Epic (OpenID/SMART discovery, JWKS, token endpoints).

Every call has a timeout; transport failures and error statuses become UpstreamError (retryable for
timeouts, 429 and 5xx). `requests` is imported on first use. TLS trust follows the environment
(`REQUESTS_CA_BUNDLE`), which is how tests trust their stand-ins' self-signed certificates.
"""

from __future__ import annotations

import functools
import logging
from typing import Any
from urllib.parse import urlsplit

from shared.errors import UpstreamError

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = (5, 15)
"""Connect and read timeouts: discovery and token calls answer in well under a second when healthy."""
MAX_DOCUMENT_BYTES = 1024 * 1024


def get_json(
    url: str,
    *,
    what: str,
    bearer: str | None = None,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    timeout: tuple[float, float] = TIMEOUT_SECONDS,
) -> dict[str, Any]:
    """GET a JSON object (`{}` for an empty answer), with `bearer` as access token and `params` as query if
    given, within `timeout` (connect, read). Raises UpstreamError (naming `what` and the host only, with the
    status it answered) on any failure."""
    return _call(
        "GET", url, what=what, accept_client_errors=False, bearer=bearer, params=params, extra=headers, timeout=timeout
    )[1]


def post_form(url: str, form: dict[str, str], *, what: str) -> tuple[int, dict[str, Any]]:
    """POST a form and return status and JSON object, also for 4xx (OAuth errors are JSON bodies).

    Raises UpstreamError on transport failures, 5xx and 429, or a body that is not a JSON object.
    """
    return _call("POST", url, what=what, data=form, accept_client_errors=True)


def post_json(
    url: str, document: dict[str, Any], *, what: str, bearer: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """POST a JSON object with `bearer` as access token; the answer's JSON object. Raises UpstreamError
    (retryable for timeouts, 429 and 5xx; not for other refusals)."""
    return _call("POST", url, what=what, accept_client_errors=False, json=document, bearer=bearer, extra=headers)[1]


@functools.cache
def _session() -> Any:
    """One pooled session per process: a launch calls Epic three times, and TLS handshakes are the cost."""
    import requests

    return requests.Session()


def _call(
    method: str,
    url: str,
    *,
    what: str,
    accept_client_errors: bool,
    data: dict[str, str] | None = None,
    json: dict[str, Any] | None = None,
    bearer: str | None = None,
    params: dict[str, str] | None = None,
    extra: dict[str, str] | None = None,
    timeout: tuple[float, float] = TIMEOUT_SECONDS,
) -> tuple[int, dict[str, Any]]:
    import requests

    host = urlsplit(url).hostname or "?"
    headers = {"Accept": "application/json", **(extra or {})}
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    try:
        response = _session().request(
            method, url, params=params, data=data, json=json, timeout=timeout, headers=headers
        )
    except requests.Timeout as exc:
        raise UpstreamError(f"{what} at {host} did not answer in time.", retryable=True) from exc
    except requests.RequestException as exc:
        raise UpstreamError(f"{what} at {host} could not be reached.", retryable=True) from exc
    status = response.status_code
    if status == 429 or status >= 500:
        raise UpstreamError(f"{what} at {host} answered {status}.", retryable=True, status=status)
    if status >= 400 and not accept_client_errors:
        raise UpstreamError(f"{what} at {host} answered {status}.", retryable=False, status=status)
    if not response.content:
        return status, {}  # a FHIR create may answer 201 with only a Location; a web service 200 with nothing
    if len(response.content) > MAX_DOCUMENT_BYTES:
        raise UpstreamError(f"{what} at {host} answered with an oversized document.", retryable=False)
    try:
        document = response.json()
    except ValueError as exc:
        raise UpstreamError(f"{what} at {host} did not answer with JSON.", retryable=False) from exc
    if not isinstance(document, dict):
        raise UpstreamError(f"{what} at {host} did not answer with a JSON object.", retryable=False)
    return status, document
