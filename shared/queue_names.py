"""Names of the queues the app's functions read: a module of constants, cheap to import when indexing.

`hl7-inbound`, `sms-outbound` and `ehr-writeback` exist in every geography's account (patient data stays there);
`phone-number-orders` is in the control account. The host adds `<name>-poison` beside each.
"""

HL7_INBOUND_QUEUE = "hl7-inbound"
SMS_OUTBOUND_QUEUE = "sms-outbound"
PHONE_NUMBER_ORDERS_QUEUE = "phone-number-orders"
EHR_WRITEBACK_QUEUE = "ehr-writeback"
