"""The app's own route table as requests: every route and method, with chosen values in its parameters.

Tests that must cover every HTTP route (hostile values, security headers, fuzzing) take the routes from
here, so a new route is covered the day it is registered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

import function_app
from shared.devhost.functions import read_functions
from shared.devhost.http_server import Route

ROUTE_PREFIX = "/api"
_PARAMETER = re.compile(r"\{\*?(\w+)(?::[^}?]+)?\??\}")


@dataclass(frozen=True)
class RouteCall:
    function: str
    method: str
    template: str

    def path(self, value: str) -> str:
        """The route's path with every parameter set to `value`, percent-encoded as a client sends it."""
        return f"{ROUTE_PREFIX}/" + _PARAMETER.sub(lambda _: quote(value, safe=""), self.template)


def app_routes() -> list[RouteCall]:
    """One RouteCall per route and method of function_app's HTTP triggers (HEAD and OPTIONS left out)."""
    calls = []
    for function in read_functions(function_app.app, {}).http:
        route = Route.of(function)
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            calls.append(RouteCall(function.name, method, route.template))
    return calls
