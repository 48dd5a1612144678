// Log Analytics workspace and workspace-based Application Insights. Local (key) ingestion is off: the app
// sends telemetry with its managed identity, which holds Monitoring Metrics Publisher on the component.

param workspaceName string
param componentName string
param location string

@description('Principal that may publish telemetry (the app\'s managed identity).')
param principalId string

@description('Days Log Analytics keeps logs; 30 is included in the ingestion price.')
@minValue(30)
@maxValue(730)
param retentionDays int = 30

param tags object = {}

var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: workspaceName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionDays
  }
}

resource component 'Microsoft.Insights/components@2020-02-02' = {
  name: componentName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
  }
}

resource publisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(component.id, principalId, monitoringMetricsPublisher)
  scope: component
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output connectionString string = component.properties.ConnectionString
