#!/usr/bin/env bash
# Print the Key Vault createMode for the next deployment into a resource group: `recover` when the group's
# connector vault is soft-deleted (after `azd down` or a deleted group: purge protection keeps the name for
# 90 days, so creating it again fails), else `default`.
#
# Usage: infra/scripts/vault-create-mode.sh <resource-group>
# Optional environment: NAME_PREFIX (the template's namePrefix, default tehr).
# `az keyvault list-deleted` lists each deleted vault with properties.vaultId, the id it had, which names its
# resource group; the template names its vault kv-<prefix>-<token> in that group.
set -euo pipefail

[[ $# -eq 1 && -n "$1" ]] || { echo "usage: infra/scripts/vault-create-mode.sh <resource-group>" >&2; exit 1; }
group="$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')"
prefix="$(printf '%s' "${NAME_PREFIX:-tehr}" | tr '[:upper:]' '[:lower:]')"

deleted="$(az keyvault list-deleted --resource-type vault --query "[].properties.vaultId" --output tsv)"
if printf '%s\n' "$deleted" | tr '[:upper:]' '[:lower:]' \
  | grep -q "/resourcegroups/${group}/providers/microsoft.keyvault/vaults/kv-${prefix}-"; then
  echo recover
else
  echo default
fi
