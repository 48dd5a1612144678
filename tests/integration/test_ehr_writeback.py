"""The `ehr-writeback` queue functions: events reach the write-back once per event id; bad messages are poisoned."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime

import azure.functions as func

from shared import bootstrap
from shared.adapters.recording_ehr import EHR_WRITE_BACKS_TABLE
from shared.domain.ehr_events import EhrEvent, EhrEventKind
from shared.queue_names import EHR_WRITEBACK_QUEUE
from tests.appcalls import call

AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def message(payload: dict) -> func.QueueMessage:
    return func.QueueMessage(id=secrets.token_hex(4), body=json.dumps(payload).encode())


def test_an_event_is_written_back_once_however_often_delivered(app_env: dict[str, str]) -> None:
    endpoint_id = f"ep-{secrets.token_hex(6)}"
    event = EhrEvent("US", endpoint_id, "CSN4711", EhrEventKind.SMS_UNDELIVERED, AT, "reminder: unreachable")
    for _ in range(2):
        call("write_back_ehr_event_us", message(event.to_message()))
    rows = list(bootstrap.get_storage().for_geo("US").table(EHR_WRITE_BACKS_TABLE).list_partition(endpoint_id))
    assert [row.entity["RowKey"] for row in rows] == [event.event_id]
    assert json.loads(rows[0].entity["Payload"])["detail"] == "reminder: unreachable"
    assert list(bootstrap.get_storage().control.table(EHR_WRITE_BACKS_TABLE).list_partition(endpoint_id)) == []


def test_a_malformed_event_goes_to_the_poison_queue_at_once(app_env: dict[str, str]) -> None:
    marker = secrets.token_hex(6)
    call("write_back_ehr_event_eu", message({"v": 1, "kind": "teleported", "marker": marker}))
    poison = bootstrap.get_storage().for_geo("EU").queue(f"{EHR_WRITEBACK_QUEUE}-poison").client
    bodies = [m.content for m in poison.receive_messages(max_messages=32, visibility_timeout=1)]
    assert any(marker in body for body in bodies)
