"""The function app's hosting: Flex Consumption only, documented instance limits, liveness as the health check."""

from __future__ import annotations

from bicep_eval import Template, parse_file
from infra_paths import MAIN, MODULES

FUNCTION_APP = MODULES / "function-app.bicep"


def _decorator(parameter: dict, kind: str) -> object:
    return next(d["argument"] for d in parameter["decorators"] if d["type"] == kind)


def test_only_flex_consumption_which_needs_no_shared_key() -> None:
    """Elastic Premium's content share needs an account key (WEBSITE_CONTENTAZUREFILECONNECTIONSTRING), and
    every account has shared keys off; the option is gone rather than broken (issue 17.9)."""
    main = parse_file(MAIN)
    module = parse_file(FUNCTION_APP)
    assert "hostingPlan" not in main["parameters"]
    assert "hostingPlan" not in module["parameters"]
    plan = module["resources"]["plan"]["config"]
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    assert "ElasticPremium" not in repr(module)
    deployment = module["resources"]["site"]["config"]["properties"]["functionAppConfig"]["deployment"]
    assert deployment["storage"]["authentication"]["type"] == "UserAssignedIdentity"


def test_maximum_instance_count_stays_in_flex_consumptions_documented_range() -> None:
    parameter = parse_file(FUNCTION_APP)["parameters"]["maximumInstanceCount"]
    assert (_decorator(parameter, "min_value"), _decorator(parameter, "max_value")) == (40, 1000)
    assert 40 <= parameter["default"] <= 1000


def test_the_platform_health_check_is_liveness_not_the_detailed_health() -> None:
    from function_app import app
    from shared.devhost.functions import indexed_functions

    routes = {
        function.get_function_name(): function.get_trigger().get_dict_repr().get("route")
        for function in indexed_functions(app)
    }
    template = Template(
        FUNCTION_APP,
        {
            "name": "f",
            "planName": "p",
            "location": "l",
            "identityId": "i",
            "appSettings": [],
            "deploymentContainerUrl": "u",
        },
    )
    path = template.variable("livenessPath")
    site = parse_file(FUNCTION_APP)["resources"]["site"]["config"]
    assert site["properties"]["siteConfig"]["healthCheckPath"] == "livenessPath"
    assert path == f"/api/{routes['get_liveness']}"
    assert path != f"/api/{routes['get_health']}"
