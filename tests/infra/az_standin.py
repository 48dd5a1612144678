"""A stand-in for the few Azure CLI commands the deploy scripts run, answering as `az` does.

Run as `az` through a shim on PATH (`install(directory, state_file)`, or `run_script`); its state (secrets,
certificates, soft-deleted ones and vaults, injected failures) and every call it received live in a JSON file
the test reads.
Error output follows azure-cli: `ERROR: (<service error code>) <message>` on stderr
(azure-cli `src/azure-cli-core/azure/cli/core/azclierror.py` and `util.py`, which print the service's code
and message), with Key Vault's REST error codes and messages (learn.microsoft.com/rest/api/keyvault, Get
Secret / Get Deleted Secret: 404 `SecretNotFound`; Get Certificate / Get Deleted Certificate: 404
`CertificateNotFound`, texts as in Azure/azure-sdk-for-js issue 20930 and that SDK's recorded Key Vault
responses for keyvault-certificates; 409 `Conflict` with inner error `ObjectIsDeletedButRecoverable` for a
soft-deleted name; 403 `Forbidden` with inner error `ForbiddenByRbac` while an RBAC assignment propagates).
A resource-not-found exits 3, other errors 1 (azure-cli's documented exit codes).
`az keyvault certificate create --policy` reads the policy as azure-cli does: `@file` or JSON text, keys
converted to snake_case (azure-cli-core `util.py` `get_json_object`), then the fields
`command_modules/keyvault/_validators.py` `build_certificate_policy` reads; unknown keys are ignored, as
there. Key Vault then issues the self-signed certificate and, as it does, makes a secret of the same name
holding it (learn.microsoft.com/azure/key-vault/certificates/about-certificates: content type
`application/x-pkcs12` unless the policy says `application/x-pem-file`, where the PEM is the PKCS#8 private
key followed by the certificate; without an exportable key the secret holds no private key). The stand-in
treats a policy that does not say `exportable` as not exportable (ours always says it) and issues only
self-signed (`Self`) certificates.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

FORBIDDEN = (
    "ERROR: (Forbidden) Caller is not authorized to perform action on resource.\n"
    'Inner error: {\n    "code": "ForbiddenByRbac"\n}'
)
UNREACHABLE = "ERROR: HTTPSConnectionPool(host='kv.vault.azure.net', port=443): Max retries exceeded"
RECOVER_HINT = (
    " If you recently deleted this certificate you may be able to recover it using the correct recovery command."
    " For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"
)
QUICK = {"SECRETS_RETRY_SECONDS": "0", "SUBSCRIBE_WAIT_SECONDS": "0"}
"""No waiting between retries in tests."""
EMPTY_VAULT = {"secrets": {}, "deleted": {}, "certificates": {}, "deleted_certificates": {}}


def install(directory: Path, state_file: Path, state: dict[str, Any]) -> dict[str, str]:
    """Write the `az` shim and the initial state; return the environment that puts the shim first on PATH."""
    state_file.write_text(json.dumps({"calls": [], **EMPTY_VAULT, "forbidden": {}, "broken": [], **state}))
    shim = directory / "az"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{Path(__file__).resolve()}" "$@"\n')
    shim.chmod(0o755)
    return {
        **os.environ,
        "PATH": f"{directory}:/usr/bin:/bin",
        "AZ_STANDIN_STATE": str(state_file),
    }


def run_script(
    directory: Path, script: Path, args: list[str], state: dict[str, Any], **env: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Run `script` with the stand-in as `az`; return the completed process and the stand-in's final state."""
    state_file = directory / "az-state.json"
    environment = {**install(directory, state_file, state), **QUICK, **env}
    completed = subprocess.run(
        [str(script), *args], capture_output=True, text=True, env=environment, timeout=60, check=False
    )
    return completed, json.loads(state_file.read_text())


def _argument(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def _answer(args: list[str], state: dict[str, Any]) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) for one command."""
    if args[:2] in (["keyvault", "secret"], ["keyvault", "certificate"]):
        kind = args[1]
        if kind in state["broken"]:
            return 1, "", UNREACHABLE
        if state["forbidden"].get(kind, 0) > 0:
            state["forbidden"][kind] -= 1
            return 1, "", FORBIDDEN
        answer = _secret if kind == "secret" else _certificate
        return answer(args[2], _argument(args, "--name"), args, state)
    if args[:2] == ["keyvault", "list-deleted"]:
        return 0, "".join(f"{vault_id}\n" for vault_id in state.get("deleted_vault_ids", [])), ""
    if args[:3] == ["functionapp", "function", "show"]:
        state["listing_checks"] = state.get("listing_checks", 0) + 1
        if state["listing_checks"] > state.get("function_listed_after", 0):
            return 0, "{}", ""
        return 3, "", "ERROR: (ResourceNotFound) Error retrieving function."
    if args[:3] == ["deployment", "group", "create"]:
        return 0, "", ""
    return _unknown(args)


def _secret(verb: str, name: str, args: list[str], state: dict[str, Any]) -> tuple[int, str, str]:
    if verb == "show":
        if name in state["secrets"]:
            return 0, json.dumps({"name": name}), ""
        message = f"A secret with (name/id) {name} was not found in this key vault."
        return 3, "", f"ERROR: (SecretNotFound) {message}"
    if verb == "show-deleted":
        if name in state["deleted"]:
            return 0, json.dumps({"name": name}), ""
        return 3, "", "ERROR: (SecretNotFound) Deleted Secret not found"
    if verb == "recover":
        state["secrets"][name] = state["deleted"].pop(name)
        return 0, "", ""
    if verb == "set":
        if name in state["deleted"]:
            return 1, "", _deleted_conflict("Secret", name)
        state["secrets"][name] = Path(_argument(args, "--file")).read_text(encoding="utf-8")
        return 0, "", ""
    return _unknown(args)


def _certificate(verb: str, name: str, args: list[str], state: dict[str, Any]) -> tuple[int, str, str]:
    if verb == "show":
        if name in state["certificates"]:
            return 0, json.dumps({"name": name, **state["certificates"][name]}), ""
        message = f"A certificate with (name/id) {name} was not found in this key vault.{RECOVER_HINT}"
        return 3, "", f"ERROR: (CertificateNotFound) {message}"
    if verb == "show-deleted":
        if name in state["deleted_certificates"]:
            return 0, json.dumps({"name": name}), ""
        return 3, "", f"ERROR: (CertificateNotFound) Deleted Certificate not found: {name}"
    if verb == "recover":
        deleted = state["deleted_certificates"].pop(name)
        state["certificates"][name] = {"policy": deleted["policy"]}
        state["secrets"][name] = deleted["secret"]
        return 0, "", ""
    if verb == "create":
        if name in state["deleted_certificates"]:
            return 1, "", _deleted_conflict("Certificate", name)
        policy = _policy(_argument(args, "--policy"))
        if (policy.get("issuer_parameters") or {}).get("name") != "Self":
            return _unknown(args)
        state["certificates"][name] = {"policy": policy}
        state["secrets"][name] = _issue(policy)
        return 0, json.dumps({"status": "completed"}), ""
    return _unknown(args)


def _deleted_conflict(kind: str, name: str) -> str:
    message = (
        f"{kind} {name} is currently in a deleted but recoverable state, and its name cannot be reused;"
        f" in this state, the {kind.lower()} can only be recovered or purged."
    )
    return f'ERROR: (Conflict) {message}\nInner error: {{\n    "code": "ObjectIsDeletedButRecoverable"\n}}'


def _policy(value: str) -> dict[str, Any]:
    """The policy as azure-cli hands it on: `@file` or JSON text, every key in snake_case."""
    text = Path(value[1:]).read_text(encoding="utf-8") if value.startswith("@") else value

    def snake(item: Any) -> Any:
        if isinstance(item, dict):
            return {re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower(): snake(val) for key, val in item.items()}
        if isinstance(item, list):
            return [snake(val) for val in item]
        return item

    return snake(json.loads(text))


def _issue(policy: dict[str, Any]) -> str:
    """The value of the certificate's secret: a new key and its self-signed certificate, as the policy says."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import pkcs12

    key_properties = policy.get("key_properties") or {}
    x509_properties = policy.get("x509_certificate_properties") or {}
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_properties.get("key_size") or 2048)
    subject = x509.Name.from_rfc4514_string(x509_properties["subject"])
    now = datetime.datetime.now(datetime.UTC)
    months = x509_properties.get("validity_in_months") or 12
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=round(months * 365.25 / 12)))
        .sign(key, hashes.SHA256())
    )
    exportable = key_properties.get("exportable") is True
    content_type = (policy.get("secret_properties") or {}).get("content_type") or "application/x-pkcs12"
    if content_type == "application/x-pem-file":
        pem = certificate.public_bytes(serialization.Encoding.PEM)
        if exportable:
            pkcs8 = serialization.PrivateFormat.PKCS8
            pem = key.private_bytes(serialization.Encoding.PEM, pkcs8, serialization.NoEncryption()) + pem
        return pem.decode("ascii")
    pfx = pkcs12.serialize_key_and_certificates(
        None, key if exportable else None, certificate, None, serialization.NoEncryption()
    )
    return base64.b64encode(pfx).decode("ascii")


def _unknown(args: list[str]) -> tuple[int, str, str]:
    return 2, "", f"ERROR: the stand-in does not know 'az {' '.join(args[:3])}'"


def main() -> None:
    state_file = Path(os.environ["AZ_STANDIN_STATE"])
    state = json.loads(state_file.read_text())
    args = sys.argv[1:]
    state["calls"].append(args)
    status, out, err = _answer(args, state)
    state_file.write_text(json.dumps(state))
    sys.stdout.write(out)
    sys.stderr.write(err + ("\n" if err else ""))
    sys.exit(status)


if __name__ == "__main__":
    main()
