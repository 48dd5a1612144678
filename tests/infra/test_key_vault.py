"""Key Vault: the keys the app settings reference are the ones both deploy paths create; the deployer may write
them; a vault soft-deleted by `azd down` is recovered rather than colliding with its own name (issue 17.3, 17.4,
17.6)."""

from __future__ import annotations

import re
from pathlib import Path

from az_standin import run_script
from bicep_eval import Template, parse_file
from infra_paths import INFRA, MAIN, MODULES

KEY_VAULT = MODULES / "key-vault.bicep"
SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"  # built-in "Key Vault Secrets Officer"
CERTIFICATES_OFFICER = "a4417e6f-fecd-4de8-b567-7b0420556985"  # built-in "Key Vault Certificates Officer"


def _allowed(parameter: dict) -> list:
    return next(d["argument"] for d in parameter["decorators"] if d["type"] == "allowed")


def test_every_generated_key_the_app_references_is_created_by_the_deploy_scripts(tmp_path: Path) -> None:
    """Run against an empty vault, the script leaves a secret behind every reference: its own random keys and
    the certificate's secret (Key Vault makes one of the certificate's name). Operator uploads (Epic's key,
    the Entra client secret) are referenced only once their settings are given."""
    settings = Template(MAIN, {"geographies": [{"code": "US", "location": "eastus"}]}).variable("appSettings")
    references = {
        entry["name"]: re.search(r"secrets/([a-z0-9-]+)\)$", entry["value"]).group(1)
        for entry in settings
        if isinstance(entry["value"], str) and entry["value"].startswith("@Microsoft.KeyVault(")
    }
    assert references == {
        "CONTEXT_TOKEN_SECRET": "context-token-secret",
        "OPT_OUT_HASH_KEY": "opt-out-hash-key",
        "GRAPH_NOTIFICATION_KEY": "graph-notification-key",
    }
    completed, state = run_script(tmp_path, INFRA / "scripts" / "ensure-secrets.sh", ["kv-1"], {})
    assert completed.returncode == 0, completed.stderr
    assert sorted(state["secrets"]) == sorted(references.values())
    assert list(state["certificates"]) == ["graph-notification-key"]


def test_the_deployer_named_by_both_paths_may_write_secrets_and_certificates_on_the_vault_only() -> None:
    main = parse_file(MAIN)
    params = main["modules"]["keyVault"]["config"]["params"]
    assert params["deployerPrincipalId"] == "deployerPrincipalId"
    assert params["deployerPrincipalType"] == "deployerPrincipalType"
    module = parse_file(KEY_VAULT)
    assignments = module["resources"]["deployerRoles"]["config"]
    for deployer, assigned in (("", False), ("00000000-0000-0000-0000-00000000abcd", True)):
        template = Template(
            KEY_VAULT, {"name": "kv", "location": "l", "principalId": "p", "deployerPrincipalId": deployer}
        )
        assert template.evaluate(assignments["condition"], {}) is assigned
        roles = template.evaluate(assignments["loop_type"]["detail"]["array_name"], {})
        assert roles == [SECRETS_OFFICER, CERTIFICATES_OFFICER]
    body = assignments["config"]
    assert body["scope"] == "vault"
    role = assignments["loop_type"]["detail"]["item_name"]
    assert body["properties"]["roleDefinitionId"]["function"]["parameters"]["resource_name_1"] == role
    assert role in repr(body["name"]), "one assignment name per role"
    assert body["properties"]["principalId"] == "deployerPrincipalId"
    assert set(_allowed(module["parameters"]["deployerPrincipalType"])) == {"User", "ServicePrincipal"}


def test_a_soft_deleted_vault_is_recovered_under_its_deterministic_name() -> None:
    main = parse_file(MAIN)
    module = parse_file(KEY_VAULT)
    assert set(_allowed(main["parameters"]["keyVaultCreateMode"])) == {"default", "recover"}
    assert main["parameters"]["keyVaultCreateMode"]["default"] == "default"
    assert main["modules"]["keyVault"]["config"]["params"]["createMode"] == "keyVaultCreateMode"
    vault = module["resources"]["vault"]["config"]["properties"]
    assert vault["createMode"] == "createMode"
    # Purge protection stays on (deleted keys stay recoverable), so the name must be found again, not changed.
    assert vault["enablePurgeProtection"] is True
    name = Template(MAIN, {"geographies": [{"code": "US", "location": "eastus"}]}).module("keyVault")
    assert name.evaluate("name", {}) == "kv-tehr-<unknown>"
