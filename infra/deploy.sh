#!/usr/bin/env bash
# Deploy the connector with the Azure CLI: checks, what-if, infrastructure, keys, app publish, SMS events.
#
# Usage: infra/deploy.sh <resource-group> [location]
# Optional environment: GEOGRAPHIES (JSON array, e.g. '[{"code":"EU","location":"westeurope"}]'; default:
# the one in main.parameters.json), PUBLIC_BASE_URL, ENTRA_CLIENT_ID, EPIC_CLIENT_ID (template parameters
# publicBaseUrl, entraClientId, epicClientId; empty by default), SKIP_CONFIRM=1.
# Safe to run again: the keys in Key Vault are created once and never replaced (infra/scripts/ensure-secrets.sh),
# a vault soft-deleted with its resource group is recovered (infra/scripts/vault-create-mode.sh), and the
# event subscription is made only once the function is listed (infra/scripts/subscribe-sms-events.sh).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
scripts="$here/scripts"

die() { echo "deploy.sh: $*" >&2; exit 1; }
step() { echo; echo "==> $*"; }

[[ $# -ge 1 && -n "$1" ]] || die "missing resource group. Usage: infra/deploy.sh <resource-group> [location]"
resource_group="$1"
location="${2:-eastus}"
[[ -z "${HOSTING_PLAN:-}" ]] || die "HOSTING_PLAN is no longer read: the connector runs on Flex Consumption only (README.md)"

step "Checking prerequisites"
for tool in az func openssl; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' is not installed (see README.md, Deploying into your Azure subscription)"
done
az account show --output none 2>/dev/null || die "not logged in to Azure: run 'az login' (and 'az account set -s <subscription>')"
echo "subscription: $(az account show --query '[name, id]' --output tsv | paste -sd ' ')"
az bicep version >/dev/null 2>&1 || az bicep install || die "could not install the Bicep CLI ('az bicep install')"

# The deployer gets Key Vault Secrets Officer and Certificates Officer through the template, so the keys and the
# Graph certificate can be written below.
if [[ "$(az account show --query user.type --output tsv)" == "servicePrincipal" ]]; then
  deployer_type=ServicePrincipal
  deployer_id="$(az ad sp show --id "$(az account show --query user.name --output tsv)" --query id --output tsv)"
else
  deployer_type=User
  deployer_id="$(az ad signed-in-user show --query id --output tsv)"
fi
[[ -n "$deployer_id" ]] || die "could not find your Entra object id (az ad signed-in-user show)"

step "Key Vault create mode"
vault_mode="$("$scripts/vault-create-mode.sh" "$resource_group")"
echo "keyVaultCreateMode=$vault_mode"

geo_args=()
if [[ -n "${GEOGRAPHIES:-}" ]]; then
  geo_args=(--parameters "geographies=$GEOGRAPHIES")
fi
# main.parameters.json carries azd placeholders (${...}) that az would pass on literally: every one of them
# is given an explicit value here (tests/infra/test_deploy_scripts.py checks that none is left out).
params=(
  --parameters "@$here/main.parameters.json"
  ${geo_args[@]+"${geo_args[@]}"}
  --parameters "location=$location" "deployerPrincipalId=$deployer_id" "deployerPrincipalType=$deployer_type"
  "keyVaultCreateMode=$vault_mode" "publicBaseUrl=${PUBLIC_BASE_URL:-}" "entraClientId=${ENTRA_CLIENT_ID:-}"
  "epicClientId=${EPIC_CLIENT_ID:-}"
)

step "Resource group $resource_group in $location"
az group create --name "$resource_group" --location "$location" --output none || die "could not create resource group"

step "What-if"
az deployment group what-if --resource-group "$resource_group" --template-file "$here/main.bicep" \
  "${params[@]}" || die "what-if failed; nothing was changed"
if [[ "${SKIP_CONFIRM:-}" != "1" ]]; then
  read -r -p "Deploy these changes? [y/N] " answer
  [[ "$answer" == [yY]* ]] || die "stopped before deploying"
fi

step "Deploying infrastructure"
az deployment group create --resource-group "$resource_group" --name teams-ehr-connector \
  --template-file "$here/main.bicep" "${params[@]}" --output none \
  || die "deployment failed; see 'az deployment group show -g $resource_group -n teams-ehr-connector'"
output() { az deployment group show --resource-group "$resource_group" --name teams-ehr-connector --query "properties.outputs.$1.value" --output tsv; }
app_name="$(output FUNCTION_APP_NAME)"
[[ -n "$app_name" ]] || die "deployment returned no function app name"

step "Ensuring the context-token signing key, the opt-out hash key and the Graph certificate in Key Vault"
"$scripts/ensure-secrets.sh" "$(output KEY_VAULT_NAME)" \
  || die "the keys are not in place; the app cannot sign links, send SMS or follow Teams call events"

step "Publishing the app to $app_name"
# Core Tools packages the folder minus .funcignore (tests, local world, local data stay out).
(cd "$repo" && func azure functionapp publish "$app_name" --python --build remote) || die "publishing failed"

step "Subscribing SMS delivery reports"
"$scripts/subscribe-sms-events.sh" "$resource_group" "$app_name" "$(output SMS_EVENTS_TOPIC_NAME)"

step "Endpoints"
echo "function app:    $(output FUNCTION_APP_URL)"
echo "liveness:        $(output FUNCTION_APP_URL)/api/live"
echo "health:          $(output FUNCTION_APP_URL)/api/health"
echo "key vault:       $(output KEY_VAULT_NAME) (upload the Epic private key as secret 'epic-private-key')"
echo "communication:   $(output COMMUNICATION_SERVICES_ENDPOINT)"
echo "storage per geography:"
az deployment group show --resource-group "$resource_group" --name teams-ehr-connector \
  --query "properties.outputs.GEO_STORAGE_ACCOUNTS.value[].[code, storageAccount, location]" --output tsv \
  | while read -r code account region; do echo "  $code: $account ($region)"; done
