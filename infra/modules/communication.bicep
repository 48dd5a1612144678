// Azure Communication Services for SMS. Its data (message records, phone numbers bought through it) is stored
// in the United States: ACS sells SMS-capable numbers per country and the connector texts US patients.
// The app reaches it with its managed identity: the SMS and phone-number SDKs accept an Entra ID token. ACS
// documents no data role for SMS or numbers, only Contributor on the resource, and Contributor also lets the
// holder read and regenerate the access keys (listKeys, regenerateKey), which would make the keyless design
// optional. Contributor carries no dataActions, so what ACS checks is an action; the app gets a custom role,
// assignable only in this resource group and assigned on this one resource: every Microsoft.Communication
// action but the key actions and deleting the resource (and nothing of Microsoft.Authorization).

param name string

@description('Principal that sends SMS and manages numbers (the app\'s managed identity).')
param principalId string

param tags object = {}

resource communication 'Microsoft.Communication/communicationServices@2023-04-01' = {
  name: name
  // ACS is a global resource; where its data rests is set by dataLocation.
  location: 'global'
  tags: tags
  properties: {
    dataLocation: 'United States'
  }
}

// Key actions as the Microsoft.Communication provider names them (Azure resource provider operations).
var keyActions = [
  'Microsoft.Communication/CommunicationServices/ListKeys/action'
  'Microsoft.Communication/CommunicationServices/RegenerateKey/action'
]

resource senderRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, 'acs-sender-without-keys')
  properties: {
    roleName: 'ACS sender without keys (${uniqueString(resourceGroup().id)})'
    description: 'Send SMS and manage phone numbers of one Communication Services resource with an Entra ID token; no access keys, no role management.'
    type: 'CustomRole'
    permissions: [
      {
        actions: [
          'Microsoft.Communication/*'
        ]
        notActions: concat(keyActions, [
          'Microsoft.Communication/CommunicationServices/delete'
        ])
      }
    ]
    assignableScopes: [
      resourceGroup().id
    ]
  }
}

resource sender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(communication.id, principalId, senderRole.name)
  scope: communication
  properties: {
    // A role definition is a subscription-level id even when this resource-group deployment creates it.
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', senderRole.name)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output id string = communication.id
output name string = communication.name
output endpoint string = 'https://${communication.properties.hostName}'
