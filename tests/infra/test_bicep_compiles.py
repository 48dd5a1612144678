"""The templates keep the Bicep compiler's rules that decide whether `az deployment`, `what-if` and `azd provision`
start at all (bicep_rules.py cites the compiler source of each), and the rule checker catches what it should.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from bicep_eval import parse_file
from bicep_rules import deploy_time_violations
from infra_paths import INFRA
from pycep import BicepParser

TEMPLATES = sorted(INFRA.rglob("*.bicep"))


def _parse(text: str) -> dict[str, Any]:
    return BicepParser().parse(text=text)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda path: str(path.relative_to(INFRA)))
def test_no_deploy_time_value_where_the_compiler_needs_one_known_at_the_start(path: Path) -> None:
    assert deploy_time_violations(parse_file(path)) == []


def test_the_loop_issue_17_found_is_refused() -> None:
    """main.bicep before the fix: a variable loop whose body read module outputs and an identity's client id."""
    tree = _parse(
        "resource appIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {\n"
        "  name: 'id'\n"
        "  location: 'eastus'\n"
        "}\n"
        "module geoStorage 'storage.bicep' = [for geo in geographies: {\n"
        "  name: 'storage-${geo.code}'\n"
        "}]\n"
        "var geoConnectionSettings = [for (geo, i) in geographies: [\n"
        "  { name: 'GEO_${geo.code}_STORAGE__tableServiceUri', value: geoStorage[i].outputs.tableEndpoint }\n"
        "  { name: 'GEO_${geo.code}_STORAGE__clientId', value: appIdentity.properties.clientId }\n"
        "]]\n"
    )
    problems = deploy_time_violations(tree)
    assert any("geoConnectionSettings" in p and "geoStorage.outputs" in p for p in problems)
    assert any("appIdentity.properties" in p for p in problems)


def test_ids_and_names_are_readable_at_the_start_and_variables_are_followed() -> None:
    tree = _parse(
        "resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {\n"
        "  name: 'kv'\n"
        "  location: 'eastus'\n"
        "}\n"
        "var uri = vault.properties.vaultUri\n"
        "var fine = [for i in range(0, 2): '${vault.id}/${vault.name}/${i}']\n"
        "var chained = [for i in range(0, 2): '${uri}${i}']\n"
        "resource lock 'Microsoft.Authorization/locks@2020-05-01' = if (empty(uri)) {\n"
        "  name: vault.properties.vaultUri\n"
        "  scope: vault\n"
        "}\n"
    )
    problems = deploy_time_violations(tree)
    assert not any("variable fine" in p for p in problems)
    assert any("variable chained" in p and "through variables uri" in p for p in problems)
    assert any("lock condition" in p for p in problems)
    assert any("lock property name" in p for p in problems)


def test_a_loop_local_name_is_not_taken_for_a_resource() -> None:
    tree = _parse(
        "resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n"
        "  name: 'st'\n"
        "  location: 'eastus'\n"
        "}\n"
        "var names = [for account in accounts: account.properties.name]\n"
    )
    assert deploy_time_violations(tree) == []


def test_names_are_deterministic_new_guid_and_utc_now_only_as_parameter_defaults() -> None:
    """Bicep allows newGuid() and utcNow() only in parameter defaults (BCP065); a redeploy must find every
    resource under the name it had."""
    for path in TEMPLATES:
        tree = parse_file(path)
        outside_defaults = {key: value for key, value in tree.items() if key != "parameters"}
        assert "new_guid" not in repr(outside_defaults), path
        assert "utc_now" not in repr(outside_defaults), path


def test_existing_references_name_only_what_the_caller_passes() -> None:
    """An `existing` resource declares only name, scope and parent (its body is not deployed); its name comes
    from a parameter, so the template refers to what the caller deployed."""
    for path in TEMPLATES:
        tree = parse_file(path)
        for name, resource in tree.get("resources", {}).items():
            if resource.get("existing"):
                assert set(resource["config"]) <= {"name", "scope", "parent"}, f"{path.name}: {name}"
                assert resource["config"]["name"] in tree["parameters"], f"{path.name}: {name}"


def test_for_expressions_only_where_the_compiler_takes_them() -> None:
    """BCP138: a for-expression may not be an argument of a function; pycep's grammar refuses it too, so
    test_checkov's parse of every template covers the rule."""
    with pytest.raises(Exception, match="Unexpected token"):
        _parse("var flat = concat([for x in xs: x], ys)\n")
