#!/usr/bin/env bash
# Subscribe the app's SMS delivery-report function to the ACS system topic, once the function is listed.
#
# Usage: infra/scripts/subscribe-sms-events.sh <resource-group> <function-app-name> <topic-name>
# Run after publishing, by infra/deploy.sh and by azd (postdeploy hook). Event Grid validates the function
# when the subscription is created, and a freshly published app lists its functions only after the host has
# indexed them, so this waits for the listing and retries the deployment. It keeps no state: a fresh
# `azd up` never subscribes before the function exists.
# Optional environment: SUBSCRIBE_WAIT_SECONDS (default 10), SUBSCRIBE_TRIES (default 30).
set -euo pipefail

die() { echo "subscribe-sms-events.sh: $*" >&2; exit 1; }

[[ $# -eq 3 && -n "$1" && -n "$2" && -n "$3" ]] \
  || die "usage: infra/scripts/subscribe-sms-events.sh <resource-group> <function-app-name> <topic-name>"
group="$1"
app="$2"
topic="$3"
function_name="receive_sms_delivery_report"
wait_seconds="${SUBSCRIBE_WAIT_SECONDS:-10}"
tries="${SUBSCRIBE_TRIES:-30}"
template="$(cd "$(dirname "$0")/.." && pwd)/sms-event-subscription.bicep"

for ((try = 1; ; try++)); do
  if az functionapp function show --resource-group "$group" --name "$app" --function-name "$function_name" \
    --output none 2>/dev/null; then
    break
  fi
  [[ $try -lt $tries ]] || die "$function_name is not listed on $app after $((tries * wait_seconds))s; is the app published?"
  echo "waiting for $function_name to be listed on $app"
  sleep "$wait_seconds"
done

for ((try = 1; ; try++)); do
  if az deployment group create --resource-group "$group" --name sms-event-subscription \
    --template-file "$template" --parameters "topicName=$topic" "functionAppName=$app" \
    "functionName=$function_name" --output none; then
    echo "SMS delivery reports and inbound texts now reach $function_name"
    exit 0
  fi
  [[ $try -lt 3 ]] || die "the event subscription failed three times; see 'az deployment group show -g $group -n sms-event-subscription'"
  sleep "$wait_seconds"
done
