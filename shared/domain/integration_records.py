"""The records an Epic analyst copies into Epic for one approved endpoint, as data and as plain text.

Launch paths are those the launch feature serves; the context parameters are Epic's (the visit's CSN
as the session, the performing department), added to the launch URL by Epic at launch time. The
connection-status record says how we call Epic's telehealth status service, for the vendor record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.domain.config import Endpoint, Organisation, sms_settings_document
from shared.domain.connection_status import EXTERNAL_ID_TYPE, VENDOR_NAME, service_url
from shared.domain.siu import EVENT_KINDS

PROVIDER_LAUNCH_PATH = "/api/launch/provider"
PATIENT_LAUNCH_PATH = "/api/launch/patient"
DEVICE_TEST_PATH = "/api/devicetest"
"""Opened with `?ctx=<context_token>` (the device-test record gives both)."""
HL7_PATH = "/api/hl7/{endpoint_id}"
DEVICE_TEST_PURPOSE = "device-test"
SIU_EVENTS = tuple(EVENT_KINDS)
"""New, rescheduled, modified, cancelled, discontinued, deleted, no-show: the events the connector acts on."""


@dataclass(frozen=True)
class RecordInputs:
    public_base_url: str
    epic_client_id: str
    device_test_token: str


def integration_records(org: Organisation, endpoint: Endpoint, inputs: RecordInputs) -> dict[str, dict[str, Any]]:
    base = inputs.public_base_url
    launch_context = {"sessionId": "%CSN%", "departmentId": "%PERFDEPID;;; ; ;;NONE;%"}
    return {
        "provider_launch": {
            "launch_url": base + PROVIDER_LAUNCH_PATH,
            "client_id": inputs.epic_client_id,
            "fhir_base_url": endpoint.fhir_base_url,
            "context_parameters": launch_context,
        },
        "patient_launch": {
            "launch_url": base + PATIENT_LAUNCH_PATH,
            "client_id": inputs.epic_client_id,
            "fhir_base_url": endpoint.fhir_base_url,
            "context_parameters": {"sessionId": "%CSN%"},
        },
        "direct_sms": {
            "hl7_url": base + HL7_PATH.format(endpoint_id=endpoint.id),
            "message_type": "SIU",
            "trigger_events": list(SIU_EVENTS),
            "authentication": f"JWT signed with the key of the {endpoint.environment} certificate or JWKS",
            "body_hash_required": endpoint.require_body_hash,
        },
        "sms_configuration": {
            "organisation_display_name": org.display_name,
            **sms_settings_document(endpoint.sms),
            "time_zone": endpoint.time_zone,
        },
        "device_test": {
            "url": base + DEVICE_TEST_PATH,
            "context_token": inputs.device_test_token,
        },
        "connection_status": {
            "service_url": _connection_status_url(endpoint.fhir_base_url),
            "vendor_name": VENDOR_NAME,
            "external_id_type": EXTERNAL_ID_TYPE,
            "epic_client_id": inputs.epic_client_id,
            "authentication": "SMART Backend Services: client credentials with our private_key_jwt (our JWKS)",
            "enabled": endpoint.ehr_write_back,
        },
    }


def _connection_status_url(fhir_base_url: str) -> str | None:
    try:
        return service_url(fhir_base_url)
    except ValueError:
        return None  # not an Epic-shaped base: the analyst gets the Interconnect URL from Epic


def as_text(records: dict[str, dict[str, Any]]) -> str:
    """The records as an analyst reads them: one titled block each, one `Label: value` line per field."""
    blocks = []
    for name, fields in records.items():
        lines = [name.replace("_", " ").capitalize() + " record"]
        for key, value in fields.items():
            if isinstance(value, dict):
                shown = "&".join(f"{k}={v}" for k, v in value.items())
            elif isinstance(value, list):
                shown = ", ".join(str(v) for v in value) or "-"
            else:
                shown = "-" if value is None else str(value)
            lines.append(f"  {key.replace('_', ' ').capitalize()}: {shown}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
