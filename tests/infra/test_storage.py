"""One storage account per served geography, in its region, with the security baseline on every account."""

from __future__ import annotations

from typing import Any

import pytest
from bicep_eval import Template, parse_file
from infra_paths import MAIN, MODULES, default_parameters

from shared.settings import KNOWN_GEOS

STORAGE_MODULE = "modules/storage-account.bicep"
LOCAL_SKUS = {"Standard_LRS", "Standard_ZRS"}


def _allowed(parameter: dict[str, Any]) -> list[Any]:
    return next(d["argument"] for d in parameter["decorators"] if d["type"] == "allowed")


def test_the_parameter_file_serves_known_geographies_once_each() -> None:
    geographies = default_parameters()["geographies"]
    codes = [geo["code"] for geo in geographies]
    assert codes
    assert len(codes) == len(set(codes))
    assert set(codes) <= set(KNOWN_GEOS)
    assert all(geo["location"] for geo in geographies)


@pytest.mark.parametrize(
    "geographies",
    [
        None,  # main.parameters.json
        [{"code": "EU", "location": "westeurope"}],
        [{"code": "APAC", "location": "australiaeast"}, {"code": "US", "location": "westus3"}],
    ],
)
def test_one_account_per_geography_in_its_region(geographies: list[dict[str, str]] | None) -> None:
    geographies = geographies or default_parameters()["geographies"]
    template = Template(MAIN, {"geographies": geographies})
    module = template.tree["modules"]["geoStorage"]
    assert module["detail"]["path"] == STORAGE_MODULE
    instances = template.evaluate_loop({**module["config"], "config": module["config"]["config"]["params"]}, {})
    assert [(i["dataScope"], i["location"]) for i in instances] == [(g["code"], g["location"]) for g in geographies]
    assert all(i["queueNames"] == template.variable("geographyQueues") for i in instances)
    assert {"hl7-inbound", "sms-outbound"} <= set(template.variable("geographyQueues"))


def test_control_account_uses_the_same_module() -> None:
    assert parse_file(MAIN)["modules"]["controlStorage"]["detail"]["path"] == STORAGE_MODULE


def test_no_geo_redundant_sku_can_be_chosen() -> None:
    main = parse_file(MAIN)
    module = parse_file(MODULES / "storage-account.bicep")
    assert set(_allowed(main["parameters"]["storageSku"])) <= LOCAL_SKUS
    assert set(_allowed(module["parameters"]["sku"])) <= LOCAL_SKUS
    assert module["resources"]["account"]["config"]["sku"]["name"] == "sku"
    for name in ("controlStorage", "geoStorage"):
        config = main["modules"][name]["config"]
        params = config["config"]["params"] if "loop_type" in config else config["params"]
        assert params["sku"] == "storageSku"


def test_every_account_has_the_security_baseline() -> None:
    module = parse_file(MODULES / "storage-account.bicep")["resources"]
    accounts = [r for r in module.values() if r["type"] == "Microsoft.Storage/storageAccounts"]
    assert len(accounts) == 1
    properties = accounts[0]["config"]["properties"]
    assert properties["supportsHttpsTrafficOnly"] is True
    assert properties["minimumTlsVersion"] == "TLS1_2"
    assert properties["allowBlobPublicAccess"] is False
    assert properties["allowSharedKeyAccess"] is False
    services = {r["type"].rsplit("/", 1)[1] for r in module.values()}
    assert {"tableServices", "queueServices", "blobServices"} <= services
    blob = module["blobService"]["config"]["properties"]
    assert blob["deleteRetentionPolicy"]["enabled"] is True
    assert blob["containerDeleteRetentionPolicy"]["enabled"] is True
