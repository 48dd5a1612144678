"""The local host routes requests as the Functions host does: literals first, catch-all last."""

from __future__ import annotations

import azure.functions as func

from shared.devhost.functions import read_functions, resolve
from shared.devhost.http_server import Router


def build_app() -> func.FunctionApp:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="{*path}")
    def fallback(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("fallback")

    @app.route(route="config/orgs/{orgId}", methods=["GET"])
    def get_org(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("org")

    @app.route(route="config/orgs/new", methods=["GET"])
    def new_org(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("new")

    @app.queue_trigger(arg_name="msg", queue_name="%QUEUE%", connection="GEO_US_STORAGE")
    def drain(msg: func.QueueMessage) -> None:
        return None

    return app


def router() -> Router:
    return Router(read_functions(build_app(), {}).http)


def test_literal_beats_parameter_beats_catch_all() -> None:
    assert router().match("GET", "config/orgs/new")[0].function.name == "new_org"
    route, params = router().match("GET", "config/orgs/o-1")
    assert (route.function.name, params) == ("get_org", {"orgId": "o-1"})
    assert router().match("GET", "anything/else")[0].function.name == "fallback"


def test_method_outside_a_route_falls_through() -> None:
    assert router().match("DELETE", "config/orgs/o-1")[0].function.name == "fallback"


def test_route_parameters_are_url_decoded() -> None:
    assert router().match("GET", "config/orgs/a%20b")[1] == {"orgId": "a b"}


def test_disabled_functions_are_left_out() -> None:
    catalogue = read_functions(build_app(), {"AzureWebJobs.drain.Disabled": "true"})
    assert catalogue.disabled == ["drain"]
    assert catalogue.queue == []


def test_app_setting_indirection() -> None:
    assert resolve("%QUEUE%-x", {"QUEUE": "hl7-inbound"}) == "hl7-inbound-x"
