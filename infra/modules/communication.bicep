// Azure Communication Services for SMS. Its data (message records, phone numbers bought through it) is stored
// in the United States: ACS sells SMS-capable numbers per country and the connector texts US patients.
// The app reaches it with its managed identity: the SMS and phone-number SDKs accept an Entra ID token, and
// ACS documents Contributor on the resource as the role that authorises that (there is no narrower data role).

param name string

@description('Principal that sends SMS and manages numbers (the app\'s managed identity).')
param principalId string

param tags object = {}

var contributor = 'b24988ac-6180-42a0-ab88-20f7382dd24c'

resource communication 'Microsoft.Communication/communicationServices@2023-04-01' = {
  name: name
  // ACS is a global resource; where its data rests is set by dataLocation.
  location: 'global'
  tags: tags
  properties: {
    dataLocation: 'United States'
  }
}

resource sender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(communication.id, principalId, contributor)
  scope: communication
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', contributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output id string = communication.id
output name string = communication.name
output endpoint string = 'https://${communication.properties.hostName}'
