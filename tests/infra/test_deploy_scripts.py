"""The deploy scripts against an `az` stand-in: keys and the Graph certificate created once and never replaced,
soft-deleted ones recovered, the vault recovered after `azd down`, the SMS subscription made only once the
function is listed, and both deploy paths (infra/deploy.sh, the azd hooks in azure.yaml) running the same
scripts."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from az_standin import run_script
from cryptography import x509
from infra_paths import INFRA, REPO

from shared.adapters.graph_notifications import load_notification_certificate

SCRIPTS = INFRA / "scripts"
KEYS = ("context-token-secret", "opt-out-hash-key")
CERTIFICATE = "graph-notification-key"


def run(tmp_path: Path, script: str, args: list[str], state: dict[str, Any], **env: str) -> tuple[Any, dict]:
    return run_script(tmp_path, SCRIPTS / script, args, state, **env)


def writes(state: dict[str, Any]) -> list[str]:
    """Every key the script wrote: secrets set and certificates created, in order."""
    return [
        call[call.index("--name") + 1]
        for call in state["calls"]
        if call[:3] in (["keyvault", "secret", "set"], ["keyvault", "certificate", "create"])
    ]


def test_missing_keys_are_created_with_32_random_bytes_or_more(tmp_path: Path) -> None:
    completed, state = run(tmp_path, "ensure-secrets.sh", ["kv-1"], {})
    assert completed.returncode == 0, completed.stderr
    assert writes(state) == [*KEYS, CERTIFICATE]
    keys = [base64.b64decode(state["secrets"][name]) for name in KEYS]
    assert all(len(key) >= 32 for key in keys)
    assert keys[0] != keys[1]
    assert not any(state["secrets"][name] in completed.stdout + completed.stderr for name in [*KEYS, CERTIFICATE])
    assert not [call for call in state["calls"] if "--value" in call], "a key on the command line is visible to ps"


def test_the_created_certificate_is_one_the_app_reads_and_key_vault_renews(tmp_path: Path) -> None:
    """Its secret is what GRAPH_NOTIFICATION_KEY resolves to: PEM with the private key (a PKCS#12 or
    non-exportable policy would leave the app without a key), RSA 2048, renewed on the same key."""
    completed, state = run(tmp_path, "ensure-secrets.sh", ["kv-1"], {})
    assert completed.returncode == 0, completed.stderr
    loaded = load_notification_certificate(state["secrets"][CERTIFICATE], "GRAPH_NOTIFICATION_KEY")
    assert loaded.private_key.key_size == 2048
    certificate = x509.load_der_x509_certificate(base64.b64decode(loaded.certificate_b64))
    assert certificate.subject == certificate.issuer
    assert certificate.subject.rfc4514_string() == "CN=Teams EHR connector Graph notifications"
    assert 360 <= (certificate.not_valid_after_utc - certificate.not_valid_before_utc).days <= 370
    policy = state["certificates"][CERTIFICATE]["policy"]
    assert policy["key_properties"]["reuse_key"] is True
    renewal = policy["lifetime_actions"][0]
    assert renewal["action"]["action_type"] == "AutoRenew"
    assert 0 < renewal["trigger"]["days_before_expiry"] < 365


def test_existing_keys_are_never_replaced(tmp_path: Path) -> None:
    existing = {"context-token-secret": "old-1", "opt-out-hash-key": "old-2", CERTIFICATE: "old-pem"}
    certificates = {CERTIFICATE: {"policy": {"issuer_parameters": {"name": "Self"}}}}
    state = {"secrets": dict(existing), "certificates": certificates}
    completed, state = run(tmp_path, "ensure-secrets.sh", ["kv-1"], state)
    assert completed.returncode == 0, completed.stderr
    assert state["secrets"] == existing
    assert state["certificates"] == certificates
    assert writes(state) == []


def test_a_soft_deleted_key_is_recovered_not_replaced(tmp_path: Path) -> None:
    state = {
        "secrets": {"context-token-secret": "c"},
        "deleted": {"opt-out-hash-key": "the-opt-out-key"},
        "deleted_certificates": {CERTIFICATE: {"policy": {"issuer_parameters": {"name": "Self"}}, "secret": "pem"}},
    }
    completed, state = run(tmp_path, "ensure-secrets.sh", ["kv-1"], state)
    assert completed.returncode == 0, completed.stderr
    assert state["secrets"]["opt-out-hash-key"] == "the-opt-out-key"
    assert state["secrets"][CERTIFICATE] == "pem"
    assert state["deleted_certificates"] == {}
    assert writes(state) == []


@pytest.mark.parametrize("kind", ["secret", "certificate"])
def test_an_error_that_is_not_not_found_stops_without_writing(tmp_path: Path, kind: str) -> None:
    """The old `show ... 2>/dev/null || set` overwrote opt-out-hash-key on any error, forgetting every opt-out."""
    state = {"secrets": {"context-token-secret": "c", "opt-out-hash-key": "k"}, "broken": [kind]}
    completed, state = run(tmp_path, "ensure-secrets.sh", ["kv-1"], state)
    assert completed.returncode != 0
    assert "left alone" in completed.stderr
    assert writes(state) == []


def test_forbidden_while_the_roles_propagate_is_retried(tmp_path: Path) -> None:
    completed, state = run(tmp_path, "ensure-secrets.sh", ["kv-1"], {"forbidden": {"secret": 3, "certificate": 3}})
    assert completed.returncode == 0, completed.stderr
    assert writes(state) == [*KEYS, CERTIFICATE]


@pytest.mark.parametrize(
    ("kind", "role", "written"),
    [("secret", "Key Vault Secrets Officer", []), ("certificate", "Key Vault Certificates Officer", list(KEYS))],
)
def test_forbidden_for_good_names_the_role_to_grant(tmp_path: Path, kind: str, role: str, written: list) -> None:
    state = {"forbidden": {kind: 100}}
    completed, state = run(tmp_path, "ensure-secrets.sh", ["kv-1"], state, SECRETS_RETRY_TRIES="2")
    assert completed.returncode != 0
    assert f"you need '{role}'" in completed.stderr
    assert writes(state) == written


@pytest.mark.parametrize(
    ("vault_ids", "mode"),
    [
        ([], "default"),
        (["/subscriptions/s/resourceGroups/RG-Connector/providers/Microsoft.KeyVault/vaults/kv-tehr-abc"], "recover"),
        (["/subscriptions/s/resourceGroups/other/providers/Microsoft.KeyVault/vaults/kv-tehr-abc"], "default"),
        (["/subscriptions/s/resourceGroups/rg-connector/providers/Microsoft.KeyVault/vaults/kv-other-1"], "default"),
    ],
)
def test_the_vault_is_recovered_after_azd_down(tmp_path: Path, vault_ids: list[str], mode: str) -> None:
    completed, _ = run(tmp_path, "vault-create-mode.sh", ["rg-connector"], {"deleted_vault_ids": vault_ids})
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == mode


def test_the_subscription_waits_until_the_function_is_listed(tmp_path: Path) -> None:
    completed, state = run(
        tmp_path, "subscribe-sms-events.sh", ["rg", "func-1", "evgt-1"], {"function_listed_after": 3}
    )
    assert completed.returncode == 0, completed.stderr
    kinds = [" ".join(call[:3]) for call in state["calls"]]
    assert kinds == ["functionapp function show"] * 4 + ["deployment group create"]
    deployment = state["calls"][-1]
    assert str(INFRA / "sms-event-subscription.bicep") in deployment
    assert {"topicName=evgt-1", "functionAppName=func-1"} <= set(deployment)


def test_no_subscription_while_the_function_is_never_listed(tmp_path: Path) -> None:
    completed, state = run(
        tmp_path,
        "subscribe-sms-events.sh",
        ["rg", "func-1", "evgt-1"],
        {"function_listed_after": 99},
        SUBSCRIBE_TRIES="3",
    )
    assert completed.returncode != 0
    assert "is not listed" in completed.stderr
    assert not [call for call in state["calls"] if call[:3] == ["deployment", "group", "create"]]


def test_both_deploy_paths_run_the_same_scripts_and_keep_no_subscribe_switch() -> None:
    """Issue 17.7: a SUBSCRIBE_SMS_DELIVERY_REPORTS value left in the azd environment made the next fresh
    `azd up` subscribe before the function existed; nothing persists that decision now."""
    hooks = yaml.safe_load((REPO / "azure.yaml").read_text())["hooks"]
    deploy_sh = (INFRA / "deploy.sh").read_text()
    for hook, script in (
        ("preprovision", "vault-create-mode.sh"),
        ("postprovision", "ensure-secrets.sh"),
        ("postdeploy", "subscribe-sms-events.sh"),
    ):
        assert f"infra/scripts/{script}" in hooks[hook]["run"]
        assert f'"$scripts/{script}"' in deploy_sh
    everything = deploy_sh + (REPO / "azure.yaml").read_text() + (INFRA / "main.parameters.json").read_text()
    assert "SUBSCRIBE_SMS_DELIVERY_REPORTS" not in everything
    assert "azd provision" not in yaml.safe_dump(hooks)
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert parameters["deployerPrincipalId"]["value"] == "${AZURE_PRINCIPAL_ID}"
    assert parameters["keyVaultCreateMode"]["value"] == "${KEY_VAULT_CREATE_MODE=default}"
    assert "deployerPrincipalId=$deployer_id" in deploy_sh


@pytest.mark.parametrize("script", [*sorted(p.name for p in SCRIPTS.glob("*.sh")), "../deploy.sh"])
def test_scripts_are_valid_bash_and_stop_on_errors(script: str) -> None:
    path = SCRIPTS / script
    assert subprocess.run(["/usr/bin/bash", "-n", str(path)], check=False).returncode == 0
    assert "set -euo pipefail" in path.read_text()


def test_deploy_sh_replaces_every_azd_placeholder_of_the_parameter_file() -> None:
    """az passes `${VAR=default}` on literally; only azd substitutes it."""
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    placeholders = {name for name, entry in parameters.items() if str(entry["value"]).startswith("${")}
    assert placeholders
    deploy_sh = (INFRA / "deploy.sh").read_text()
    assert [name for name in sorted(placeholders) if f'"{name}=$' not in deploy_sh] == []
