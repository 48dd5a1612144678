// Event Grid system topic on the ACS resource and, once the app is published, the subscription that delivers
// SMS delivery reports and inbound texts (STOP / START) to the app's Event Grid-triggered function. Event Grid
// checks that the function exists when the subscription is created, hence the switch: the first deployment
// leaves it off, the one after publishing turns it on (deploy.sh and the azd postdeploy hook do this).

param topicName string
param communicationServiceId string
param functionAppId string

@description('Name of the Event Grid-triggered function that records delivery reports.')
param functionName string

@description('Create the subscription; only once the function is published.')
param subscribe bool

param tags object = {}

resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: topicName
  location: 'global'
  tags: tags
  properties: {
    source: communicationServiceId
    topicType: 'Microsoft.Communication.CommunicationServices'
  }
}

resource deliveryReports 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = if (subscribe) {
  parent: topic
  name: 'sms-delivery-reports'
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${functionAppId}/functions/${functionName}'
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
