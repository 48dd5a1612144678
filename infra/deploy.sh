#!/usr/bin/env bash
# Deploy the connector with the Azure CLI: checks, what-if, deployment, app publish, SMS event subscription.
#
# Usage: infra/deploy.sh <resource-group> [location]
# Optional environment: GEOGRAPHIES (JSON array, e.g. '[{"code":"EU","location":"westeurope"}]'; default:
# the one in main.parameters.json), HOSTING_PLAN (FlexConsumption | ElasticPremium), SKIP_CONFIRM=1.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"

die() { echo "deploy.sh: $*" >&2; exit 1; }
step() { echo; echo "==> $*"; }

[[ $# -ge 1 && -n "$1" ]] || die "missing resource group. Usage: infra/deploy.sh <resource-group> [location]"
resource_group="$1"
location="${2:-eastus}"
hosting_plan="${HOSTING_PLAN:-FlexConsumption}"
case "$hosting_plan" in
  FlexConsumption|ElasticPremium) ;;
  *) die "HOSTING_PLAN must be FlexConsumption or ElasticPremium, not '$hosting_plan'" ;;
esac

step "Checking prerequisites"
for tool in az func zip openssl; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' is not installed (see README.md, Deploying into your Azure subscription)"
done
az account show --output none 2>/dev/null || die "not logged in to Azure: run 'az login' (and 'az account set -s <subscription>')"
echo "subscription: $(az account show --query '[name, id]' --output tsv | paste -sd ' ')"
az bicep version >/dev/null 2>&1 || az bicep install || die "could not install the Bicep CLI ('az bicep install')"

geo_args=()
if [[ -n "${GEOGRAPHIES:-}" ]]; then
  geo_args=(--parameters "geographies=$GEOGRAPHIES")
fi
# main.parameters.json carries azd placeholders for these; the explicit values below replace them.
params=(
  --parameters "@$here/main.parameters.json"
  ${geo_args[@]+"${geo_args[@]}"}
  --parameters "location=$location" "hostingPlan=$hosting_plan"
)

step "Resource group $resource_group in $location"
az group create --name "$resource_group" --location "$location" --output none || die "could not create resource group"

step "What-if"
az deployment group what-if --resource-group "$resource_group" --template-file "$here/main.bicep" \
  "${params[@]}" --parameters subscribeSmsDeliveryReports=false || die "what-if failed; nothing was changed"
if [[ "${SKIP_CONFIRM:-}" != "1" ]]; then
  read -r -p "Deploy these changes? [y/N] " answer
  [[ "$answer" == [yY]* ]] || die "stopped before deploying"
fi

deploy() {
  az deployment group create --resource-group "$resource_group" --name teams-ehr-connector \
    --template-file "$here/main.bicep" "${params[@]}" --parameters "subscribeSmsDeliveryReports=$1" \
    --output none
}

step "Deploying infrastructure"
deploy false || die "deployment failed; see 'az deployment group show -g $resource_group -n teams-ehr-connector'"
output() { az deployment group show --resource-group "$resource_group" --name teams-ehr-connector --query "properties.outputs.$1.value" --output tsv; }
app_name="$(output FUNCTION_APP_NAME)"
[[ -n "$app_name" ]] || die "deployment returned no function app name"

step "Ensuring the context-token signing key and the opt-out hash key in Key Vault"
vault="$(output KEY_VAULT_NAME)"
for secret in context-token-secret opt-out-hash-key; do
  if ! az keyvault secret show --vault-name "$vault" --name "$secret" --output none 2>/dev/null; then
    az keyvault secret set --vault-name "$vault" --name "$secret" --value "$(openssl rand -base64 48)" \
      --output none || die "cannot write secret $secret: give yourself 'Key Vault Secrets Officer' on $vault"
  fi
done

step "Publishing the app to $app_name"
(cd "$repo" && func azure functionapp publish "$app_name" --python --build remote) || die "publishing failed"

step "Subscribing SMS delivery reports"
deploy true || die "event subscription failed; is the delivery-report function published?"

step "Endpoints"
echo "function app:    $(output FUNCTION_APP_URL)"
echo "health:          $(output FUNCTION_APP_URL)/api/health"
echo "key vault:       $(output KEY_VAULT_NAME) (upload the Epic private key as secret 'epic-private-key')"
echo "communication:   $(output COMMUNICATION_SERVICES_ENDPOINT)"
echo "storage per geography:"
az deployment group show --resource-group "$resource_group" --name teams-ehr-connector \
  --query "properties.outputs.GEO_STORAGE_ACCOUNTS.value[].[code, storageAccount, location]" --output tsv \
  | while read -r code account region; do echo "  $code: $account ($region)"; done
