// Key Vault in RBAC mode for the private key the connector signs with towards Epic. The operator uploads the
// key as secret `epic-private-key` (see README.md, Deploying into your Azure subscription); the app identity may read secrets, nothing more.

param name string
param location string

@description('Principal that reads secrets (the app\'s managed identity).')
param principalId string

param tags object = {}

var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'

// A constant, not a parameter, so the documentation, the upload command and app settings agree.
var epicPrivateKeySecretName = 'epic-private-key'
// The key that signs context tokens (device-test links); infra/deploy.sh creates it with random bytes.
var contextTokenSecretName = 'context-token-secret'
// The key and certificate Graph encrypts Teams call events for: a Key Vault certificate of this name (RSA 2048,
// content type PEM), whose secret of the same name holds both; the operator creates it (README "Graph permissions").
var graphNotificationKeyName = 'graph-notification-key'
// The key of the SMS opt-out list's keyed hash; infra/deploy.sh creates it with random bytes. Never rotate it
// without re-keying the list: a new key forgets every opt-out.
var optOutHashKeyName = 'opt-out-hash-key'
// The client secret of the connector's Entra app registration (provider sign-in at launch); the operator uploads it.
var entraClientSecretName = 'entra-client-secret'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: Key Vault references from an app without VNet integration need the public endpoint; RBAC limits who reads.
  // checkov:skip=CKV_AZURE_189: same reason as CKV_AZURE_109.
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
@description('Versionless secret URI, for an app setting `@Microsoft.KeyVault(SecretUri=...)` that follows rotations.')
output epicPrivateKeySecretUri string = '${vault.properties.vaultUri}secrets/${epicPrivateKeySecretName}'
@description('Versionless URI of the secret of the certificate that Graph encrypts call events for.')
output graphNotificationKeySecretUri string = '${vault.properties.vaultUri}secrets/${graphNotificationKeyName}'
@description('Versionless URI of the context-token signing key.')
output contextTokenSecretUri string = '${vault.properties.vaultUri}secrets/${contextTokenSecretName}'
@description('Versionless URI of the SMS opt-out list\'s hash key.')
output optOutHashKeyUri string = '${vault.properties.vaultUri}secrets/${optOutHashKeyName}'
@description('Versionless URI of the Entra app registration\'s client secret (provider sign-in).')
output entraClientSecretUri string = '${vault.properties.vaultUri}secrets/${entraClientSecretName}'
