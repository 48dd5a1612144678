// The Functions app: Linux, Python, on Flex Consumption, running as the user-assigned identity. App settings
// arrive complete from main.bicep, which derives them in one place.
// Elastic Premium is not offered: it keeps the app's content on an Azure Files share reached with an account
// key (WEBSITE_CONTENTAZUREFILECONNECTIONSTRING), and every storage account here has shared keys off. Flex
// Consumption deploys from a blob container with the managed identity, so no key exists anywhere.

param name string
param planName string
param location string

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string

@description('Every app setting, as [{ name, value }]; nothing is added here.')
param appSettings array

@description('Blob container URL that holds Flex Consumption deployment packages.')
param deploymentContainerUrl string

param pythonVersion string = '3.11'

@description('Flex Consumption: memory per instance.')
@allowed([
  2048
  4096
])
param instanceMemoryMB int = 2048

// Flex Consumption's documented range for maximumInstanceCount is 40 to 1000
// (learn.microsoft.com/azure/azure-functions/flex-consumption-how-to, "Set instance counts").
@description('Upper bound on instances, which also caps cost and load on Epic.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

param tags object = {}

// The platform's health check: /api/live answers 200 while the host and worker serve requests. The detailed
// /api/health (503 when one geography's storage is down) must not be it: the platform would take every
// instance out of rotation for one region's outage, and the other geographies with it.
var livenessPath = '/api/live'

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: zone redundancy depends on region and plan (and costs a minimum of warm instances); an operator choice, not a default.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: Epic, MyChart patients and SMS links reach the app over the internet.
  // checkov:skip=CKV_AZURE_17: callers (Epic, browsers) present no client certificates; HL7 ingress is authenticated by a signed JWT.
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales to zero by design; failover comes from the platform's instance replacement.
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    keyVaultReferenceIdentity: identityId
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      healthCheckPath: livenessPath
      appSettings: appSettings
    }
  }
}

// Deployments authenticate with Entra ID (azd, az, Core Tools all do); no publishing passwords exist.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output id string = site.id
output name string = site.name
output url string = 'https://${site.properties.defaultHostName}'
