#!/usr/bin/env bash
# Create the keys the app's Key Vault references point at if, and only if, they do not exist yet: two random
# secrets and the certificate Graph encrypts Teams call events for.
#
# Usage: infra/scripts/ensure-secrets.sh <key-vault-name>
# Run by infra/deploy.sh and by azd (postprovision hook) after the template gave the deployer Key Vault
# Secrets Officer and Key Vault Certificates Officer. An existing key is never overwritten: a new
# opt-out-hash-key forgets every opt-out, so opted-out patients would be texted again. A soft-deleted key is
# recovered, not replaced. Only a real "not found" (Key Vault error code SecretNotFound / CertificateNotFound)
# leads to a new key; any other error stops the script. Forbidden is retried for a while: a new role
# assignment takes minutes to reach Key Vault.
# The certificate follows graph-notification-key-policy.json beside this script: self-signed, RSA 2048, PEM,
# renewed by Key Vault on the same key (README "Graph permissions"; policy fields:
# learn.microsoft.com/azure/key-vault/certificates/about-certificates, learn.microsoft.com/cli/azure/keyvault/certificate).
# Optional environment: SECRETS_RETRY_SECONDS (default 20), SECRETS_RETRY_TRIES (default 15).
set -euo pipefail

die() { echo "ensure-secrets.sh: $*" >&2; exit 1; }

[[ $# -eq 1 && -n "$1" ]] || die "usage: infra/scripts/ensure-secrets.sh <key-vault-name>"
vault="$1"
retry_seconds="${SECRETS_RETRY_SECONDS:-20}"
retry_tries="${SECRETS_RETRY_TRIES:-15}"
secrets=(context-token-secret opt-out-hash-key)
certificates=(graph-notification-key)
certificate_policy="$(dirname "$0")/graph-notification-key-policy.json"
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

# ensure <secret|certificate> <name> <role> <command...>: keep the key if present, recover it if soft-deleted,
# else run the command that creates it.
ensure() {
  local kind="$1" name="$2" role="$3"
  shift 3
  if az_retrying keyvault "$kind" show --vault-name "$vault" --name "$name" --output none; then
    echo "$name: present, kept"
    return
  fi
  [[ "$error_text" == *"(${kind^}NotFound)"* ]] \
    || die "cannot read $kind $name, so it is left alone: $error_text (you need '$role' on $vault)"
  if az_retrying keyvault "$kind" show-deleted --vault-name "$vault" --name "$name" --output none; then
    az_retrying keyvault "$kind" recover --vault-name "$vault" --name "$name" --output none \
      || die "cannot recover the soft-deleted $kind $name: $error_text"
    echo "$name: recovered from soft delete"
    return
  fi
  [[ "$error_text" == *NotFound* ]] || die "cannot check deleted ${kind}s for $name: $error_text"
  "$@" || die "cannot create $kind $name: $error_text"
  echo "$name: created"
}

new_secret() {
  printf '%s' "$(openssl rand -base64 48)" >"$key_file"
  az_retrying keyvault secret set --vault-name "$vault" --name "$1" --file "$key_file" --encoding utf-8 --output none
}

# Key Vault generates the key pair itself; for a self-signed certificate `create` waits until it is issued.
new_certificate() {
  az_retrying keyvault certificate create --vault-name "$vault" --name "$1" --policy "@$certificate_policy" \
    --output none
}

for secret in "${secrets[@]}"; do
  ensure secret "$secret" "Key Vault Secrets Officer" new_secret "$secret"
done
for certificate in "${certificates[@]}"; do
  ensure certificate "$certificate" "Key Vault Certificates Officer" new_certificate "$certificate"
done
