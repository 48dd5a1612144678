// The identity-based storage connection settings of every geography, as [{ name, value }] app settings.
// A module because the values are deploy-time (endpoints of accounts this deployment creates, the identity's
// client id): Bicep refuses them in the body of a variable loop (BCP182), but a module parameter may carry
// them and, inside the module, a variable loop over parameters compiles.
// Geographies the deployment does not serve get a "parked" connection: their queue functions exist in the
// code for every known geography and the Functions host builds a trigger's binding, connection included,
// before it reads `AzureWebJobs.<function>.Disabled`; without a connection it reports an indexing error per
// function. The parked connection names the control account's queue service, where no geography queue
// exists, and the functions stay disabled, so nothing listens and no patient data can arrive there.

@description('Served geographies: [{ code, tableEndpoint, queueEndpoint, blobEndpoint }] of their storage accounts.')
param served array

@description('Codes of the known geographies this deployment does not serve.')
param unserved array

@description('Queue endpoint the unserved geographies\' (disabled) queue functions are parked on.')
param parkingQueueEndpoint string

@description('Client id of the user-assigned identity every connection authenticates as.')
param clientId string

var servedSettings = [for geo in served: [
  { name: 'GEO_${geo.code}_STORAGE__tableServiceUri', value: geo.tableEndpoint }
  { name: 'GEO_${geo.code}_STORAGE__queueServiceUri', value: geo.queueEndpoint }
  { name: 'GEO_${geo.code}_STORAGE__blobServiceUri', value: geo.blobEndpoint }
  { name: 'GEO_${geo.code}_STORAGE__credential', value: 'managedidentity' }
  { name: 'GEO_${geo.code}_STORAGE__clientId', value: clientId }
]]

var parkedSettings = [for code in unserved: [
  { name: 'GEO_${code}_STORAGE__queueServiceUri', value: parkingQueueEndpoint }
  { name: 'GEO_${code}_STORAGE__credential', value: 'managedidentity' }
  { name: 'GEO_${code}_STORAGE__clientId', value: clientId }
]]

output settings array = concat(flatten(servedSettings), flatten(parkedSettings))
