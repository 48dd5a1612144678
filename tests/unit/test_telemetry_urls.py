"""No token reaches Application Insights request URLs: what the Functions host would record for our links.

The host records each HTTP request's URL in request telemetry, less its query string unless host.json sets
`logging.applicationInsights.enableQueryStringTracing` (and the path again as the `HttpPath` property):
Azure/azure-webjobs-sdk, src/Microsoft.Azure.WebJobs.Logging.ApplicationInsights/Initializers/
WebJobsTelemetryInitializer.cs. A browser never sends a URL's fragment. So a token is safe in a fragment, a
query string (while host.json keeps the default) or a body, never in a path; these tests apply those two
rules to every link the app hands out and to every route it serves.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode, urlsplit

import function_app
from shared.devhost.functions import read_functions
from shared.domain.integration_records import DEVICE_TEST_PATH
from shared.domain.join_tokens import new_token
from shared.domain.sms_text import join_url
from shared.hostconfig import HOST_JSON
from shared.triggers.config_approval import CALLBACK_ROUTE as APPROVAL_CALLBACK
from shared.triggers.launch import CALLBACK_ROUTE as LAUNCH_CALLBACK
from shared.triggers.launch import SIGN_IN_ROUTE

BASE = "https://connector.contoso-health.org"
SECRET_PARAMETERS = re.compile(r"token|code|state|ctx|secret|key", re.IGNORECASE)
LEGACY_ROUTES = {"join/{token}"}
"""Join links sent before tokens moved to the fragment; they expire with their visits."""


def as_sent(link: str) -> str:
    """What the browser puts on the wire for `link`: everything but the fragment."""
    return link.split("#", 1)[0]


def request_telemetry(url: str) -> dict[str, str]:
    """The URL fields of the host's request telemetry for a request to `url`, host.json as it is."""
    parts = urlsplit(url)
    recorded = url if query_string_traced() else f"{parts.scheme}://{parts.netloc}{parts.path}"
    return {"url": recorded, "HttpPath": parts.path}


def query_string_traced() -> bool:
    insights = json.loads(HOST_JSON.read_text()).get("logging", {}).get("applicationInsights", {})
    return any(key.lower() == "enablequerystringtracing" and value for key, value in insights.items())


def test_host_json_keeps_query_strings_out_of_request_telemetry() -> None:
    assert not query_string_traced()


def test_the_sms_join_link_keeps_its_token_out_of_request_telemetry() -> None:
    token = new_token("EU")
    link = join_url(BASE, token)
    assert token in link
    assert token not in json.dumps(request_telemetry(as_sent(link)))


def test_device_test_tokens_and_oauth_codes_and_states_stay_out_of_request_telemetry() -> None:
    secret = "s3cr3t-ey0-value"
    links = [
        f"{BASE}{DEVICE_TEST_PATH}?{urlencode({'ctx': secret})}",
        f"{BASE}/api/{LAUNCH_CALLBACK}?{urlencode({'code': secret, 'state': secret})}",
        f"{BASE}/api/{SIGN_IN_ROUTE}?{urlencode({'code': secret, 'state': secret})}",
        f"{BASE}/api/{APPROVAL_CALLBACK}?{urlencode({'code': secret, 'state': secret})}",
    ]
    for link in links:
        assert secret not in json.dumps(request_telemetry(as_sent(link))), link


def test_no_route_but_the_legacy_join_link_takes_a_secret_in_its_path() -> None:
    routes = {function.trigger["route"] for function in read_functions(function_app.app, {}).http}
    secret_paths = {
        route for route in routes for name in re.findall(r"{\*?(\w+)", route) if SECRET_PARAMETERS.search(name)
    }
    assert secret_paths == LEGACY_ROUTES
