"""`HttpBlueprint` adds the security headers to what a route returns, whatever kind of response it is."""

from __future__ import annotations

import azure.functions as func

from shared.triggers.http import HttpBlueprint, json_response
from shared.triggers.pages import html_response, redirect


def _served(response: func.HttpResponse) -> func.HttpResponse:
    bp = HttpBlueprint()
    bp.route(route="probe", methods=["GET"])(lambda req: response)
    app = func.FunctionApp()
    app.register_functions(bp)
    (function,) = app.get_functions()
    return function.get_user_function()(func.HttpRequest("GET", "http://h/api/probe", body=b""))


def test_a_redirect_gets_nosniff_and_refuses_framing() -> None:
    headers = _served(redirect("https://teams.example/meet")).headers
    assert headers["Location"] == "https://teams.example/meet"
    assert headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_a_page_keeps_its_own_policy_and_gains_frame_ancestors() -> None:
    policy = _served(html_response("<p>hi</p>", nonce="abc")).headers["Content-Security-Policy"]
    assert policy.startswith("default-src 'self'")
    assert "'nonce-abc'" in policy
    assert policy.endswith("; frame-ancestors 'none'")


def test_json_gets_the_same_headers() -> None:
    headers = _served(json_response({"ok": True})).headers
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
