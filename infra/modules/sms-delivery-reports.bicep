// Event Grid system topic on the ACS resource. Its subscription, which delivers SMS delivery reports and inbound
// texts (STOP / START) to the app's Event Grid-triggered function, is a template of its own
// (infra/sms-event-subscription.bicep): Event Grid validates the function when the subscription is created, so
// it can only be deployed once the app is published and the function listed. infra/scripts/subscribe-sms-events.sh
// waits for that and deploys it, after `azd deploy` (postdeploy hook) and in infra/deploy.sh. A later deployment
// of main.bicep leaves the subscription alone (incremental mode).

param topicName string
param communicationServiceId string

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

output name string = topic.name
