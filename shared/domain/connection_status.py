"""What Epic's telehealth connection-status web service (`SetExternalConnectionStatus`) hears of a visit event,
without I/O.

Hyperspace shows a video visit's live status on the provider's schedule from the vendor's calls to this
service. Its parameters, as public vendor material gives them (see `localworld/epic_telehealth.py`):
`ConferenceID` (the visit Epic launched us with: its CSN, or a group visit's conference id),
`ExternalID` and `ExternalIDType` (whose connection it is, in the vendor's ids), `VendorName`, and
`ConnectionStatus` (0 unsure, 1 joined, 2 hung up, 3 waiting room, as Epic's own MyChart client
numbers them). Our `ExternalID` is an opaque id per visit and role (patient or provider side): it never
carries an EHR id or a name; `ExternalIDType` says it is ours (`External`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from urllib.parse import unquote

from shared.domain.ehr_events import EhrEvent, EhrEventKind

FHIR_TAIL = "/api/FHIR/R4"
SERVICE_PATH = "/api/epic/2018/Telehealth/ContextLinking/SetExternalConnectionStatus"
"""Under the organisation's Interconnect base, as public vendor material shows it."""
VENDOR_NAME = "Microsoft Teams"
"""Sent as `VendorName`; the Epic analyst configures the same name on the integration's vendor record."""
EXTERNAL_ID_TYPE = "External"


class ConnectionStatus(IntEnum):
    UNSURE = 0
    CONNECTED = 1
    DISCONNECTED = 2
    WAITING_ROOM = 3


class Side(StrEnum):
    """Whose connection: the patient side or the provider side of a visit."""

    PATIENT = "patient"
    PROVIDER = "provider"


_UPDATES: dict[EhrEventKind, tuple[tuple[Side, ConnectionStatus], ...]] = {
    EhrEventKind.PATIENT_WAITING: ((Side.PATIENT, ConnectionStatus.WAITING_ROOM),),
    EhrEventKind.PATIENT_CONNECTED: ((Side.PATIENT, ConnectionStatus.CONNECTED),),
    EhrEventKind.PROVIDER_CONNECTED: ((Side.PROVIDER, ConnectionStatus.CONNECTED),),
    EhrEventKind.PATIENT_DISCONNECTED: ((Side.PATIENT, ConnectionStatus.DISCONNECTED),),
    EhrEventKind.PROVIDER_DISCONNECTED: ((Side.PROVIDER, ConnectionStatus.DISCONNECTED),),
    EhrEventKind.ENDED: ((Side.PATIENT, ConnectionStatus.DISCONNECTED), (Side.PROVIDER, ConnectionStatus.DISCONNECTED)),
}


@dataclass(frozen=True)
class StatusUpdate:
    """One call of SetExternalConnectionStatus; `side` orders updates per participant (never backwards)."""

    conference_id: str
    side: Side
    external_id: str
    status: ConnectionStatus

    def parameters(self) -> dict[str, str]:
        return {
            "ConferenceID": self.conference_id,
            "ExternalID": self.external_id,
            "ExternalIDType": EXTERNAL_ID_TYPE,
            "VendorName": VENDOR_NAME,
            "ConnectionStatus": str(int(self.status)),
        }


def service_url(fhir_base_url: str) -> str:
    """SetExternalConnectionStatus on the Interconnect base of an Epic FHIR base URL (the base without its
    /api/FHIR/R4 tail). Raises ValueError for a base that has no such tail."""
    if not fhir_base_url.endswith(FHIR_TAIL):
        raise ValueError("an Epic FHIR base URL ends in /api/FHIR/R4")
    return fhir_base_url[: -len(FHIR_TAIL)] + SERVICE_PATH


def status_updates(event: EhrEvent) -> tuple[StatusUpdate, ...]:
    """The connection statuses `event` sets in Epic; none for an event Epic's service has no status for
    (an undelivered SMS; a departure that does not say whose, as `DISCONNECTED` does not)."""
    conference_id = unquote(event.appointment_key)
    return tuple(
        StatusUpdate(conference_id, side, external_id(event.endpoint_id, conference_id, side), status)
        for side, status in _UPDATES.get(event.kind, ())
    )


def external_id(endpoint_id: str, conference_id: str, side: Side) -> str:
    """Our opaque, stable id of one side of one visit (hex, 32 characters)."""
    material = f"teams-ehr-connector/participant\n{endpoint_id}\n{conference_id}\n{side}"
    return hashlib.sha256(material.encode()).hexdigest()[:32]
