"""A stand-in for the few Azure CLI commands the deploy scripts run, answering as `az` does.

Run as `az` through a shim on PATH (`install(directory, state_file)`); its state (secrets, soft-deleted secrets
and vaults, injected failures) and every call it received live in a JSON file the test reads.
Error output follows azure-cli: `ERROR: (<service error code>) <message>` on stderr
(azure-cli `src/azure-cli-core/azure/cli/core/azclierror.py` and `util.py`, which print the service's code
and message), with Key Vault's REST error codes (learn.microsoft.com/rest/api/keyvault, Get Secret /
Get Deleted Secret: 404 `SecretNotFound`; 403 `Forbidden` with inner error `ForbiddenByRbac` while an RBAC
assignment propagates). A resource-not-found exits 3, other errors 1 (azure-cli's documented exit codes).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

FORBIDDEN = (
    "ERROR: (Forbidden) Caller is not authorized to perform action on resource.\n"
    'Inner error: {\n    "code": "ForbiddenByRbac"\n}'
)


def install(directory: Path, state_file: Path, state: dict[str, Any]) -> dict[str, str]:
    """Write the `az` shim and the initial state; return the environment that puts the shim first on PATH."""
    state_file.write_text(json.dumps({"calls": [], **state}))
    shim = directory / "az"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{Path(__file__).resolve()}" "$@"\n')
    shim.chmod(0o755)
    return {
        **os.environ,
        "PATH": f"{directory}:/usr/bin:/bin",
        "AZ_STANDIN_STATE": str(state_file),
    }


def _argument(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def _answer(args: list[str], state: dict[str, Any]) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) for one command."""
    if args[:2] == ["keyvault", "secret"]:
        if state.get("broken"):
            return 1, "", "ERROR: HTTPSConnectionPool(host='kv.vault.azure.net', port=443): Max retries exceeded"
        if state.get("forbidden", 0) > 0:
            state["forbidden"] -= 1
            return 1, "", FORBIDDEN
        name = _argument(args, "--name")
        verb = args[2]
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
                message = (
                    f"Secret {name} is currently in a deleted but recoverable state, and its name cannot be reused."
                )
                return 1, "", f"ERROR: (Conflict) {message}"
            state["secrets"][name] = Path(_argument(args, "--file")).read_text(encoding="utf-8")
            return 0, "", ""
    if args[:2] == ["keyvault", "list-deleted"]:
        return 0, "".join(f"{vault_id}\n" for vault_id in state.get("deleted_vault_ids", [])), ""
    if args[:3] == ["functionapp", "function", "show"]:
        state["listing_checks"] = state.get("listing_checks", 0) + 1
        if state["listing_checks"] > state.get("function_listed_after", 0):
            return 0, "{}", ""
        return 3, "", "ERROR: (ResourceNotFound) Error retrieving function."
    if args[:3] == ["deployment", "group", "create"]:
        return 0, "", ""
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
