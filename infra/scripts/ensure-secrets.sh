#!/usr/bin/env bash
# Create the connector's two random keys in Key Vault if, and only if, they do not exist yet.
#
# Usage: infra/scripts/ensure-secrets.sh <key-vault-name>
# Run by infra/deploy.sh and by azd (postprovision hook) after the template gave the deployer Key Vault
# Secrets Officer. An existing secret is never overwritten: a new opt-out-hash-key forgets every opt-out, so
# opted-out patients would be texted again. A soft-deleted secret is recovered, not replaced. Only a real
# "not found" (Key Vault error code SecretNotFound) leads to a new secret; any other error stops the script.
# Forbidden is retried for a while: a new role assignment takes minutes to reach Key Vault.
# Optional environment: SECRETS_RETRY_SECONDS (default 20), SECRETS_RETRY_TRIES (default 15).
set -euo pipefail

die() { echo "ensure-secrets.sh: $*" >&2; exit 1; }

[[ $# -eq 1 && -n "$1" ]] || die "usage: infra/scripts/ensure-secrets.sh <key-vault-name>"
vault="$1"
retry_seconds="${SECRETS_RETRY_SECONDS:-20}"
retry_tries="${SECRETS_RETRY_TRIES:-15}"
secrets=(context-token-secret opt-out-hash-key)
# New keys go through a file only this user can read, never on a command line (visible to `ps`).
key_file="$(mktemp)"
trap 'rm -f "$key_file"' EXIT
chmod 600 "$key_file"

# Run `az "$@"`; on Forbidden wait and retry. Sets $error_text to the last stderr; returns az's status.
az_retrying() {
  local try status
  for ((try = 1; ; try++)); do
    status=0
    error_text="$(az "$@" 2>&1 >/dev/null)" || status=$?
    if [[ $status -eq 0 || "$error_text" != *Forbidden* || $try -ge $retry_tries ]]; then
      return $status
    fi
    echo "Key Vault refused access (the role assignment may still be propagating); retrying in ${retry_seconds}s"
    sleep "$retry_seconds"
  done
}

for secret in "${secrets[@]}"; do
  if az_retrying keyvault secret show --vault-name "$vault" --name "$secret" --output none; then
    echo "$secret: present, kept"
    continue
  fi
  [[ "$error_text" == *SecretNotFound* ]] \
    || die "cannot read secret $secret, so it is left alone: $error_text (you need 'Key Vault Secrets Officer' on $vault)"
  if az_retrying keyvault secret show-deleted --vault-name "$vault" --name "$secret" --output none; then
    az_retrying keyvault secret recover --vault-name "$vault" --name "$secret" --output none \
      || die "cannot recover the soft-deleted secret $secret: $error_text"
    echo "$secret: recovered from soft delete"
    continue
  fi
  [[ "$error_text" == *NotFound* ]] || die "cannot check deleted secrets for $secret: $error_text"
  printf '%s' "$(openssl rand -base64 48)" >"$key_file"
  az_retrying keyvault secret set --vault-name "$vault" --name "$secret" --file "$key_file" --encoding utf-8 \
    --output none || die "cannot write secret $secret: $error_text"
  echo "$secret: created"
done
