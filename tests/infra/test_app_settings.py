"""The app settings main.bicep sets are exactly those shared/settings.py reads, plus the host's own.

Expected names are derived from `shared.settings.SETTINGS`, so a setting added to the code without its line
in main.bicep (or the reverse) fails here with the name to add or remove. The storage connections computed in
modules/storage-connections.bicep are evaluated from that module with the values main.bicep passes it.
"""

from __future__ import annotations

import functools
from itertools import combinations
from typing import Any

import pytest
from bicep_eval import UNKNOWN, Template, parse_file
from infra_paths import INFRA, MAIN, MODULES

from shared.settings import CONNECTION_SUFFIXES, KNOWN_GEOS, SETTINGS, geo_storage_setting

REGIONS = {"US": "eastus", "EU": "westeurope", "APAC": "australiaeast"}
SERVED_SETS = [list(subset) for size in range(1, len(KNOWN_GEOS) + 1) for subset in combinations(KNOWN_GEOS, size)]

# Settings the Functions host (not shared/settings.py) reads; `AzureWebJobs.<fn>.Disabled` is checked apart.
HOST_SETTINGS = frozenset(
    {
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
        *(f"AzureWebJobsStorage{suffix}" for suffix in CONNECTION_SUFFIXES),
    }
)


# An unserved geography's disabled queue functions need a connection to be indexed (storage-connections.bicep).
PARKED_SUFFIXES = ("__queueServiceUri", "__credential", "__clientId")


def _settings(served: list[str]) -> dict[str, Any]:
    geographies = [{"code": geo, "location": REGIONS[geo]} for geo in served]
    template = Template(MAIN, {"geographies": geographies})
    entries = template.variable("appSettings")
    names = [entry["name"] for entry in entries]
    assert len(names) == len(set(names)), f"app settings set twice: {sorted(n for n in names if names.count(n) > 1)}"
    return {entry["name"]: entry["value"] for entry in entries}


def _expected_connector_settings(served: list[str]) -> set[str]:
    unserved_storage = {geo_storage_setting(geo) for geo in KNOWN_GEOS if geo not in served}
    expected = set()
    for spec in SETTINGS:
        if spec.local_only:
            continue
        if spec.name in unserved_storage:
            expected |= {f"{spec.name}{suffix}" for suffix in PARKED_SUFFIXES}
            continue
        if spec.connection:
            # A user-assigned identity: every identity-based part, clientId included.
            expected |= {f"{spec.name}{suffix}" for suffix in CONNECTION_SUFFIXES}
        else:
            expected.add(spec.name)
    return expected


@functools.cache
def _app_triggers() -> dict[str, str]:
    """Function name -> trigger type of every function the app registers (the SDK allows one listing)."""
    from function_app import app
    from shared.devhost.functions import indexed_functions

    return {
        function.get_function_name(): function.get_trigger().get_dict_repr()["type"]
        for function in indexed_functions(app)
    }


def _per_geography_bases() -> list[str]:
    return Template(MAIN, {"geographies": []}).variable("perGeographyQueueFunctionBases")


@pytest.mark.parametrize("served", SERVED_SETS, ids=lambda served: "+".join(served))
def test_every_setting_the_code_reads_is_set_and_no_other(served: list[str]) -> None:
    settings = _settings(served)
    expected = _expected_connector_settings(served)
    disabled = {name for name in settings if name.startswith("AzureWebJobs.") and name.endswith(".Disabled")}
    missing = expected - set(settings)
    unknown = set(settings) - expected - HOST_SETTINGS - disabled
    assert not missing, f"add to main.bicep (shared/settings.py reads them): {sorted(missing)}"
    assert not unknown, f"main.bicep sets settings nothing reads: {sorted(unknown)}"


@pytest.mark.parametrize("served", SERVED_SETS, ids=lambda served: "+".join(served))
def test_geos_lists_the_served_geographies_and_storage_uses_the_identity(served: list[str]) -> None:
    settings = _settings(served)
    assert settings["GEOS"] == ",".join(served)
    credentials = {name: value for name, value in settings.items() if name.endswith("__credential")}
    assert credentials
    assert set(credentials.values()) == {"managedidentity"}
    for name, value in settings.items():
        if name.endswith(("ServiceUri", "__clientId")):
            assert value is UNKNOWN, f"{name} must come from the deployed resource, not a literal"


@pytest.mark.parametrize("served", SERVED_SETS, ids=lambda served: "+".join(served))
def test_queue_functions_of_unserved_geographies_are_disabled(served: list[str]) -> None:
    settings = _settings(served)
    expected = {
        f"AzureWebJobs.{base}_{geo.lower()}.Disabled"
        for base in _per_geography_bases()
        for geo in KNOWN_GEOS
        if geo not in served
    }
    disabled = {name for name in settings if name.startswith("AzureWebJobs.")}
    assert disabled == expected
    assert all(settings[name] == "true" for name in disabled)


def test_no_host_runtime_settings_as_flex_consumption_refuses_them() -> None:
    settings = _settings(["US"])
    assert not {name for name in settings if name.startswith(("FUNCTIONS_", "WEBSITE_CONTENT"))}


def _setting_expressions(variable: str) -> dict[str, Any]:
    """name -> unevaluated value expression of a main.bicep variable that lists app settings."""
    return {entry["name"]: entry["value"] for entry in parse_file(MAIN)["variables"][variable]["value"]}


@pytest.mark.parametrize("served", SERVED_SETS, ids=lambda served: "+".join(served))
def test_unserved_geographies_are_parked_on_the_control_queue_service_and_disabled(served: list[str]) -> None:
    """The host indexes a disabled function's binding too, so its connection must exist; it names no
    geography account, and the settings module never reads it (GEOS does not list the geography)."""
    settings = _settings(served)
    for geo in KNOWN_GEOS:
        if geo not in served:
            parked = {name for name in settings if name.startswith(f"{geo_storage_setting(geo)}__")}
            assert parked == {f"{geo_storage_setting(geo)}{suffix}" for suffix in PARKED_SUFFIXES}
            assert settings[f"AzureWebJobs.process_hl7_message_{geo.lower()}.Disabled"] == "true"
    parking = parse_file(MAIN)["modules"]["geoConnections"]["config"]["params"]["parkingQueueEndpoint"]
    assert parking == _setting_expressions("controlConnectionSettings")["CONTROL_STORAGE__queueServiceUri"]


def test_every_azure_credential_setting_names_the_user_assigned_identity() -> None:
    """azure-identity with no client id means the system-assigned identity, which the app does not have."""
    client_id = _setting_expressions("controlConnectionSettings")["CONTROL_STORAGE__clientId"]
    assert client_id == {
        "operator": {
            "type": "property_accessor",
            "operands": {
                "operand_1": "appIdentity",
                "operand_2": {
                    "operator": {
                        "type": "property_accessor",
                        "operands": {"operand_1": "properties", "operand_2": "clientId"},
                    }
                },
            },
        }
    }
    connector = _setting_expressions("connectorSettings")
    assert connector["AZURE_CLIENT_ID"] == connector["GRAPH_CLIENT_ID"] == client_id
    assert _setting_expressions("hostSettings")["AzureWebJobsStorage__clientId"] == client_id
    assert parse_file(MAIN)["modules"]["geoConnections"]["config"]["params"]["clientId"] == client_id


def test_the_app_gets_exactly_main_bicep_app_settings() -> None:
    """No module adds settings behind the test's back: the site takes the list main.bicep computed."""
    assert parse_file(MAIN)["modules"]["functionApp"]["config"]["params"]["appSettings"] == "appSettings"
    site = parse_file(MODULES / "function-app.bicep")["resources"]["site"]["config"]
    assert site["properties"]["siteConfig"]["appSettings"] == "appSettings"
    config_resources = [
        name
        for name, resource in parse_file(MODULES / "function-app.bicep")["resources"].items()
        if resource["type"] == "Microsoft.Web/sites/config"
    ]
    assert not config_resources


def test_every_per_geography_queue_function_has_its_base_in_main_bicep() -> None:
    bases = set(_per_geography_bases())
    suffixes = tuple(f"_{geo.lower()}" for geo in KNOWN_GEOS)
    for name, trigger in _app_triggers().items():
        if trigger == "queueTrigger" and name.endswith(suffixes):
            base = name.rsplit("_", 1)[0]
            assert base in bases, f"add {base!r} to perGeographyQueueFunctionBases in main.bicep"


def test_event_grid_functions_are_the_one_the_subscription_template_subscribes() -> None:
    subscribed = parse_file(INFRA / "sms-event-subscription.bicep")["parameters"]["functionName"]["default"]
    event_grid = {name for name, trigger in _app_triggers().items() if trigger == "eventGridTrigger"}
    assert event_grid <= {subscribed}, f"main.bicep subscribes {subscribed!r}; the app has {sorted(event_grid)}"
