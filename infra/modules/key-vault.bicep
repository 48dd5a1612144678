// Key Vault in RBAC mode for the connector's keys: the private key it signs with towards Epic (the operator
// uploads it as secret `epic-private-key`, see README.md, Deploying into your Azure subscription) and the two
// random keys and the Graph notification certificate infra/scripts/ensure-secrets.sh creates. The app identity
// may read secrets, nothing more; the deployer, when named, may write secrets and certificates (Key Vault Secrets
// Officer and Key Vault Certificates Officer), so both deploy paths can create the keys.
// Purge protection keeps a deleted vault's name for 90 days: after `azd down`, the next deployment recovers
// the vault (createMode 'recover', chosen by infra/scripts/vault-create-mode.sh) instead of failing on its name.

param name string
param location string

@description('Principal that reads secrets (the app\'s managed identity).')
param principalId string

@description('Principal that deploys and writes the keys (the operator, or the pipeline\'s service principal). Empty: nobody.')
param deployerPrincipalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
])
param deployerPrincipalType string = 'User'

@description('recover: bring back the soft-deleted vault of this name (after `azd down`); default: create or update.')
@allowed([
  'default'
  'recover'
])
param createMode string = 'default'

param tags object = {}

var keyVaultSecretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
var keyVaultCertificatesOfficer = 'a4417e6f-fecd-4de8-b567-7b0420556985'
var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'

// A constant, not a parameter, so the documentation, the upload command and app settings agree.
var epicPrivateKeySecretName = 'epic-private-key'
// The key that signs context tokens (device-test links); infra/scripts/ensure-secrets.sh creates it with random bytes.
var contextTokenSecretName = 'context-token-secret'
// The key and certificate Graph encrypts Teams call events for: a Key Vault certificate of this name (RSA 2048,
// content type PEM), whose secret of the same name holds both; infra/scripts/ensure-secrets.sh creates it and
// Key Vault renews it on the same key (infra/scripts/graph-notification-key-policy.json).
var graphNotificationKeyName = 'graph-notification-key'
// The key of the SMS opt-out list's keyed hash; infra/scripts/ensure-secrets.sh creates it with random bytes. Never rotate it
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
    createMode: createMode
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

resource deployerRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in [keyVaultSecretsOfficer, keyVaultCertificatesOfficer]: if (!empty(deployerPrincipalId)) {
  name: guid(vault.id, deployerPrincipalId, role)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}]

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
