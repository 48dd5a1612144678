// One storage account with the connector's security baseline, its queues and containers, and the app
// identity's data-plane roles scoped to this account alone. Used for the control account and, in a loop,
// for every geography's account, so the baseline is written once.

@description('Account name: 3-24 lowercase letters and digits, globally unique.')
@minLength(3)
@maxLength(24)
param name string

@description('Region that holds this account\'s data.')
param location string

@description('What the account holds: control data plus the Functions host, or one geography\'s patient data. Also rejects unknown geography codes at deployment time.')
@allowed([
  'control'
  'US'
  'EU'
  'APAC'
])
param dataScope string

// Locally or zone-redundant only. Geo-redundant SKUs (GRS, RA-GRS, GZRS, RA-GZRS) would copy every write,
// patient data included, to the region's paired region, which the data-residency promise does not cover.
@description('Replication: Standard_LRS or Standard_ZRS; geo-redundant SKUs are refused on purpose.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
])
param sku string

@description('Queues to create (the host creates -poison queues itself, but creating them keeps the account complete and visible).')
param queueNames array = []

@description('Blob containers to create.')
param containerNames array = []

@description('Principal (the app\'s managed identity) that receives the roles below on this account.')
param principalId string

@description('Built-in role definition ids to grant the principal, scoped to this account.')
param roleDefinitionIds array

@description('Days a deleted blob or container stays recoverable. Tables and queues have no soft delete.')
@minValue(1)
@maxValue(365)
param softDeleteRetentionDays int = 7

param tags object = {}

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_206: LRS/ZRS on purpose; geo-replication would copy patient data to the paired region.
  // checkov:skip=CKV_AZURE_35: no VNet integration (Flex without VNet reaches storage publicly); access is Entra ID only, keys disabled.
  // checkov:skip=CKV_AZURE_59: same reason as CKV_AZURE_35; anonymous blob access is off (allowBlobPublicAccess: false).
  name: name
  location: location
  tags: union(tags, { dataScope: dataScope })
  sku: {
    name: sku
  }
  kind: 'StorageV2'
  properties: {
    accessTier: 'Hot'
    supportsHttpsTrafficOnly: true
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    // Only Entra ID: no account keys, no SAS signed with them.
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowCrossTenantReplication: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
          keyType: 'Account'
        }
        file: {
          enabled: true
          keyType: 'Account'
        }
        queue: {
          enabled: true
          keyType: 'Account'
        }
        table: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: softDeleteRetentionDays
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: softDeleteRetentionDays
    }
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [for queueName in queueNames: {
  parent: queueService
  name: queueName
}]

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [for containerName in containerNames: {
  parent: blobService
  name: containerName
  properties: {
    publicAccess: 'None'
  }
}]

resource roleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in roleDefinitionIds: {
  name: guid(account.id, principalId, roleId)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}]

output name string = account.name
output id string = account.id
output blobEndpoint string = account.properties.primaryEndpoints.blob
output queueEndpoint string = account.properties.primaryEndpoints.queue
output tableEndpoint string = account.properties.primaryEndpoints.table
