"""Which Epic connection statuses a visit event sets, in SetExternalConnectionStatus's parameters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.domain.connection_status import ConnectionStatus, Side, external_id, status_updates
from shared.domain.ehr_events import EhrEvent, EhrEventKind

AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def updates(kind: EhrEventKind, key: str = "CSN%2F1") -> list[tuple[Side, ConnectionStatus]]:
    return [(u.side, u.status) for u in status_updates(EhrEvent("EU", "ep_1", key, kind, AT))]


def test_connections_and_the_end_map_to_epics_status_numbers() -> None:
    assert updates(EhrEventKind.PATIENT_WAITING) == [(Side.PATIENT, ConnectionStatus.WAITING_ROOM)]
    assert updates(EhrEventKind.PATIENT_CONNECTED) == [(Side.PATIENT, ConnectionStatus.CONNECTED)]
    assert updates(EhrEventKind.PROVIDER_DISCONNECTED) == [(Side.PROVIDER, ConnectionStatus.DISCONNECTED)]
    assert updates(EhrEventKind.ENDED) == [
        (Side.PATIENT, ConnectionStatus.DISCONNECTED),
        (Side.PROVIDER, ConnectionStatus.DISCONNECTED),
    ]
    assert int(ConnectionStatus.CONNECTED) == 1
    assert int(ConnectionStatus.DISCONNECTED) == 2
    assert int(ConnectionStatus.WAITING_ROOM) == 3


@pytest.mark.parametrize("kind", [EhrEventKind.SMS_UNDELIVERED, EhrEventKind.DISCONNECTED])
def test_events_without_a_connection_status_set_none(kind: EhrEventKind) -> None:
    assert updates(kind) == []


def test_parameters_name_the_visit_and_an_opaque_side() -> None:
    [update] = status_updates(EhrEvent("EU", "ep_1", "CSN%2F1", EhrEventKind.PROVIDER_CONNECTED, AT))
    parameters = update.parameters()
    assert parameters["ConferenceID"] == "CSN/1"
    assert parameters["ConnectionStatus"] == "1"
    assert parameters["ExternalIDType"] == "External"
    assert parameters["ExternalID"] == external_id("ep_1", "CSN/1", Side.PROVIDER)
    assert parameters["ExternalID"] != external_id("ep_1", "CSN/1", Side.PATIENT)
    assert parameters["ExternalID"] != external_id("ep_2", "CSN/1", Side.PROVIDER)
    assert "ep_1" not in parameters["ExternalID"]
