// The Functions app: Linux, Python, on Flex Consumption (default) or Elastic Premium, running as the
// user-assigned identity. App settings arrive complete from main.bicep, which derives them in one place.

param name string
param planName string
param location string

@allowed([
  'FlexConsumption'
  'ElasticPremium'
])
param hostingPlan string

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

@description('Upper bound on instances, which also caps cost and load on Epic.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

param tags object = {}

var isFlex = hostingPlan == 'FlexConsumption'

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: zone redundancy depends on region and plan (and costs a minimum of warm instances); an operator choice, not a default.
  name: planName
  location: location
  tags: tags
  kind: isFlex ? 'functionapp' : 'elastic'
  sku: isFlex ? {
    name: 'FC1'
    tier: 'FlexConsumption'
  } : {
    name: 'EP1'
    tier: 'ElasticPremium'
  }
  properties: {
    reserved: true
    maximumElasticWorkerCount: isFlex ? null : maximumInstanceCount
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
    functionAppConfig: isFlex ? {
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
    } : null
    siteConfig: {
      linuxFxVersion: isFlex ? null : 'Python|${pythonVersion}'
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      healthCheckPath: '/api/health'
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
