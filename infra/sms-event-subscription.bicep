// The Event Grid subscription that delivers SMS delivery reports and inbound texts (STOP / START) from the ACS
// system topic to the app's Event Grid-triggered function. Deployed by infra/scripts/subscribe-sms-events.sh
// once the function is listed: Event Grid checks that the function exists when the subscription is created.

targetScope = 'resourceGroup'

@description('The ACS system topic main.bicep created (its output SMS_EVENTS_TOPIC_NAME).')
param topicName string

@description('The function app main.bicep created (its output FUNCTION_APP_NAME).')
param functionAppName string

@description('Name of the Event Grid-triggered function that records delivery reports and inbound texts.')
param functionName string = 'receive_sms_delivery_report'

resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' existing = {
  name: topicName
}

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource deliveryReports 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = {
  parent: topic
  name: 'sms-delivery-reports'
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${site.id}/functions/${functionName}'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    filter: {
      includedEventTypes: [
        'Microsoft.Communication.SMSDeliveryReportReceived'
        // Inbound texts: STOP / START keep the opt-out list.
        'Microsoft.Communication.SMSReceived'
      ]
    }
    eventDeliverySchema: 'EventGridSchema'
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
  }
}
