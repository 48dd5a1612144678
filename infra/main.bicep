// The Teams EHR connector for Epic in one resource group: one storage account per served geography (patient
// data stays in that geography's region), a control account (configuration and the Functions host), the
// function app with a user-assigned identity, monitoring, Key Vault and Communication Services for SMS.
// The resource group's own region holds only resource metadata, never data.

targetScope = 'resourceGroup'

@description('Geographies this deployment serves, each with the region of its storage, e.g. [{ code: \'EU\', location: \'westeurope\' }]. Codes: US, EU, APAC.')
@minLength(1)
param geographies array

@description('Region of the function app, control storage, Key Vault and monitoring. No patient data rests here.')
param location string = resourceGroup().location

@description('Short prefix of resource names: lowercase letters and digits.')
@minLength(2)
@maxLength(10)
param namePrefix string = 'tehr'

// Geo-redundant replication is not offered: it would copy patient data to the paired region.
@description('Replication of every storage account: Standard_LRS, or Standard_ZRS where the region has zones.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
])
param storageSku string = 'Standard_LRS'

@description('Who deploys (azd passes AZURE_PRINCIPAL_ID; deploy.sh the signed-in user): gets Key Vault Secrets Officer and Certificates Officer so the deploy can create the keys and the Graph certificate. Empty: nobody.')
param deployerPrincipalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
])
param deployerPrincipalType string = 'User'

@description('recover after `azd down` (the vault is soft-deleted and keeps its name 90 days); infra/scripts/vault-create-mode.sh decides.')
@allowed([
  'default'
  'recover'
])
param keyVaultCreateMode string = 'default'

param tags object = {}

@description('Public https base URL of the app (a custom domain, or the front door in front of it). Empty: the app\'s azurewebsites.net host name.')
param publicBaseUrl string = ''

@description('Client id of the Entra app registration that admins call the configuration API with (its app role Connector.Admin). Empty: the configuration API stays off until set.')
param entraClientId string = ''

@description('Client id of this app\'s Epic (SMART on FHIR) registration. Empty until Epic issues it.')
param epicClientId string = ''

@description('ISO 3166 country code for patient phone numbers that Epic sends without a country code.')
param defaultPhoneRegion string = 'US'

var resourceToken = uniqueString(subscription().id, resourceGroup().id)
var functionAppName = 'func-${namePrefix}-${resourceToken}'
var allTags = union(tags, { application: 'teams-ehr-connector' })
var deploymentContainerName = 'app-package'

// Geography codes the code knows (shared/settings.py KNOWN_GEOS).
var knownGeographies = [
  'US'
  'EU'
  'APAC'
]
var servedGeographies = [for geo in geographies: geo.code]
var unservedGeographies = filter(knownGeographies, code => !contains(servedGeographies, code))

// Queue-triggered functions exist once per known geography, named <base>_<geo in lower case>; those of the
// geographies this deployment does not serve are disabled, and their connection is parked
// (modules/storage-connections.bicep says why).
var perGeographyQueueFunctionBases = [
  'process_hl7_message'
  'send_sms_job'
  'write_back_ehr_event'
]
var geographyQueues = [
  'hl7-inbound'
  'hl7-inbound-poison'
  'sms-outbound'
  'sms-outbound-poison'
  'ehr-writeback'
  'ehr-writeback-poison'
]

var roles = {
  blobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  blobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  queueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  tableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
}

resource appIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-${namePrefix}-${resourceToken}'
  location: location
  tags: allTags
}

// The Functions host keeps leases, timers and deployment packages here (Blob Data Owner, as the host
// documents for identity-based AzureWebJobsStorage); the connector keeps its configuration tables here.
module controlStorage 'modules/storage-account.bicep' = {
  name: 'storage-control'
  params: {
    name: take('st${namePrefix}ctl${resourceToken}', 24)
    location: location
    dataScope: 'control'
    sku: storageSku
    containerNames: [
      deploymentContainerName
    ]
    principalId: appIdentity.properties.principalId
    roleDefinitionIds: [
      roles.blobDataOwner
      roles.queueDataContributor
      roles.tableDataContributor
    ]
    tags: allTags
  }
}

// One account per served geography, in that geography's region. Blob holds HL7 messages above the 64 KiB
// queue limit.
module geoStorage 'modules/storage-account.bicep' = [for geo in geographies: {
  name: 'storage-${toLower(geo.code)}'
  params: {
    name: take('st${namePrefix}${toLower(geo.code)}${resourceToken}', 24)
    location: geo.location
    dataScope: geo.code
    sku: storageSku
    queueNames: geographyQueues
    principalId: appIdentity.properties.principalId
    roleDefinitionIds: [
      roles.blobDataContributor
      roles.queueDataContributor
      roles.tableDataContributor
    ]
    tags: allTags
  }
}]

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    workspaceName: 'log-${namePrefix}-${resourceToken}'
    componentName: 'appi-${namePrefix}-${resourceToken}'
    location: location
    principalId: appIdentity.properties.principalId
    tags: allTags
  }
}

module keyVault 'modules/key-vault.bicep' = {
  name: 'key-vault'
  params: {
    name: take('kv-${namePrefix}-${resourceToken}', 24)
    location: location
    principalId: appIdentity.properties.principalId
    deployerPrincipalId: deployerPrincipalId
    deployerPrincipalType: deployerPrincipalType
    createMode: keyVaultCreateMode
    tags: allTags
  }
}

module communication 'modules/communication.bicep' = {
  name: 'communication'
  params: {
    name: 'acs-${namePrefix}-${resourceToken}'
    principalId: appIdentity.properties.principalId
    tags: allTags
  }
}

// Identity-based storage connections of the geographies. Their values are deploy-time, so the loop over
// geographies runs in a module (a variable loop may not read module outputs: BCP182).
module geoConnections 'modules/storage-connections.bicep' = {
  name: 'storage-connections'
  params: {
    served: [for (geo, i) in geographies: {
      code: geo.code
      tableEndpoint: geoStorage[i].outputs.tableEndpoint
      queueEndpoint: geoStorage[i].outputs.queueEndpoint
      blobEndpoint: geoStorage[i].outputs.blobEndpoint
    }]
    unserved: unservedGeographies
    parkingQueueEndpoint: controlStorage.outputs.queueEndpoint
    clientId: appIdentity.properties.clientId
  }
}

// ---------------------------------------------------------------------------------------------------------
// App settings, named as shared/settings.py reads them; tests/infra checks both directions.
// A setting the code reads that is not a storage connection: add one line here, and nowhere else.
// ---------------------------------------------------------------------------------------------------------
var connectorSettings = [
  { name: 'GEOS', value: join(servedGeographies, ',') }
  { name: 'PUBLIC_BASE_URL', value: empty(publicBaseUrl) ? 'https://${functionAppName}.azurewebsites.net' : publicBaseUrl }
  // The user-assigned identity every Azure SDK credential of the app names (azure-identity's own variable).
  { name: 'AZURE_CLIENT_ID', value: appIdentity.properties.clientId }
  { name: 'ACS_ENDPOINT', value: communication.outputs.endpoint }
  { name: 'SMS_PROVIDER', value: 'acs' }
  { name: 'DEFAULT_PHONE_REGION', value: defaultPhoneRegion }
  { name: 'MEETING_PROVIDER', value: 'graph' }
  // Plain http to loopback FHIR servers is for local runs only.
  { name: 'LOOPBACK_HTTP', value: 'false' }
  // Only endpoints whose admin turns ehr_write_back on are written to.
  { name: 'EHR_WRITE_BACK_PROVIDER', value: 'epic' }
  // Graph is called as the app's user-assigned managed identity: no secret to rotate.
  { name: 'GRAPH_TENANT_ID', value: tenant().tenantId }
  { name: 'GRAPH_CLIENT_ID', value: appIdentity.properties.clientId }
  // These three are created by infra/scripts/ensure-secrets.sh (azd postprovision hook, and deploy.sh).
  // Teams call events: Graph encrypts rich notifications for this key's certificate (a Key Vault certificate's PEM secret).
  { name: 'GRAPH_NOTIFICATION_KEY', value: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.graphNotificationKeySecretUri})' }
  { name: 'CONTEXT_TOKEN_SECRET', value: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.contextTokenSecretUri})' }
  { name: 'OPT_OUT_HASH_KEY', value: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.optOutHashKeyUri})' }
  // The configuration API trusts this tenant's tokens for the given app registration; the three go together.
  { name: 'ENTRA_AUTHORITY_HOST', value: empty(entraClientId) ? '' : environment().authentication.loginEndpoint }
  { name: 'ENTRA_CLIENT_ID', value: entraClientId }
  { name: 'ENTRA_ALLOWED_TENANTS', value: empty(entraClientId) ? '' : tenant().tenantId }
  // Redeems the provider's one-time Microsoft 365 sign-in at launch; the operator stores it as secret entra-client-secret.
  { name: 'ENTRA_CLIENT_SECRET', value: empty(entraClientId) ? '' : '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.entraClientSecretUri})' }
  { name: 'EPIC_CLIENT_ID', value: epicClientId }
  { name: 'EPIC_PRIVATE_KEY', value: empty(epicClientId) ? '' : '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.epicPrivateKeySecretUri})' }
  // During a key rotation: a Key Vault reference to the next key (e.g. secret epic-private-key-next).
  { name: 'EPIC_PRIVATE_KEY_NEXT', value: '' }
  { name: 'PHONE_NUMBER_PROVIDER', value: 'acs' }
  { name: 'PURGE_GRACE_MINUTES', value: '60' }
  { name: 'REPORTING_PERIOD_DAYS', value: '400' }
  { name: 'POISON_RETENTION_DAYS', value: '7' }
  { name: 'TIMER_SCHEDULE', value: '0 * * * * *' }
]

// Identity-based storage connections: <SETTING>__<part>, as the Functions host and shared/settings.py read them.
var controlConnectionSettings = [
  { name: 'CONTROL_STORAGE__tableServiceUri', value: controlStorage.outputs.tableEndpoint }
  { name: 'CONTROL_STORAGE__queueServiceUri', value: controlStorage.outputs.queueEndpoint }
  { name: 'CONTROL_STORAGE__blobServiceUri', value: controlStorage.outputs.blobEndpoint }
  { name: 'CONTROL_STORAGE__credential', value: 'managedidentity' }
  { name: 'CONTROL_STORAGE__clientId', value: appIdentity.properties.clientId }
]

// Every (unserved geography, base) pair; a flat range because Bicep loops do not nest.
var disabledFunctionSettings = [for i in range(0, length(unservedGeographies) * length(perGeographyQueueFunctionBases)): {
  name: 'AzureWebJobs.${perGeographyQueueFunctionBases[i % length(perGeographyQueueFunctionBases)]}_${toLower(unservedGeographies[i / length(perGeographyQueueFunctionBases)])}.Disabled'
  value: 'true'
}]

// Owned by the Functions host, not by shared/settings.py. Flex Consumption refuses FUNCTIONS_* settings (the
// runtime is part of functionAppConfig).
var hostSettings = [
  { name: 'AzureWebJobsStorage__blobServiceUri', value: controlStorage.outputs.blobEndpoint }
  { name: 'AzureWebJobsStorage__queueServiceUri', value: controlStorage.outputs.queueEndpoint }
  { name: 'AzureWebJobsStorage__tableServiceUri', value: controlStorage.outputs.tableEndpoint }
  { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
  { name: 'AzureWebJobsStorage__clientId', value: appIdentity.properties.clientId }
  { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: monitoring.outputs.connectionString }
  { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${appIdentity.properties.clientId};Authorization=AAD' }
]

var appSettings = concat(hostSettings, connectorSettings, controlConnectionSettings, geoConnections.outputs.settings, disabledFunctionSettings)

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  params: {
    name: functionAppName
    planName: 'plan-${namePrefix}-${resourceToken}'
    location: location
    identityId: appIdentity.id
    appSettings: appSettings
    deploymentContainerUrl: '${controlStorage.outputs.blobEndpoint}${deploymentContainerName}'
    tags: allTags
  }
}

module smsDeliveryReports 'modules/sms-delivery-reports.bicep' = {
  name: 'sms-delivery-reports'
  params: {
    topicName: 'evgt-${namePrefix}-${resourceToken}'
    communicationServiceId: communication.outputs.id
    tags: allTags
  }
}

output AZURE_LOCATION string = location
output FUNCTION_APP_NAME string = functionApp.outputs.name
output FUNCTION_APP_URL string = functionApp.outputs.url
output KEY_VAULT_NAME string = keyVault.outputs.name
output SMS_EVENTS_TOPIC_NAME string = smsDeliveryReports.outputs.name
output EPIC_PRIVATE_KEY_SECRET_URI string = keyVault.outputs.epicPrivateKeySecretUri
output COMMUNICATION_SERVICES_NAME string = communication.outputs.name
output COMMUNICATION_SERVICES_ENDPOINT string = communication.outputs.endpoint
output CONTROL_STORAGE_ACCOUNT string = controlStorage.outputs.name
output GEO_STORAGE_ACCOUNTS array = [for (geo, i) in geographies: {
  code: geo.code
  location: geo.location
  storageAccount: geoStorage[i].outputs.name
}]
