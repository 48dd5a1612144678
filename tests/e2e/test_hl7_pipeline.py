"""Signed SIU messages over HTTP -> ACK -> hl7-inbound -> appointment -> sms-outbound -> outbox, once.

The local host runs the real app against Azurite; the outbox sender writes what ACS would be sent.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableServiceClient

import function_app
from shared import bootstrap
from shared.devhost.host import DevHost
from shared.domain.phone import mask_phone
from shared.hostconfig import get_host_config
from shared.settings import KNOWN_GEOS
from tests.hl7_support import PATIENT_PHONE, Sender, seed_sender, siu
from tests.samples import BATCH, BATCH_EXPECTED, EXPECTED, batch_messages, sample, shifted

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


@pytest.fixture
def pipeline(
    config_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[tuple[DevHost, Sender, Path]]:
    outbox = tmp_path / "sms.jsonl"
    monkeypatch.setenv("SMS_PROVIDER", "outbox")
    monkeypatch.setenv("SMS_OUTBOX_PATH", str(outbox))
    bootstrap.reset()
    sender = seed_sender("EU")
    semantics = dataclasses.replace(
        get_host_config().queues, visibility_timeout_seconds=0, max_polling_interval_seconds=0.2
    )
    host = DevHost(function_app.app, port=0, queue_semantics=semantics, timers=False)
    host.start()
    yield host, sender, outbox
    host.stop()


def post(host: DevHost, sender: Sender, body: bytes, headers: dict[str, str] | None = None) -> requests.Response:
    return requests.post(
        f"{host.base_url}/api/hl7/{sender.endpoint.id}",
        data=body,
        headers=headers if headers is not None else sender.headers(body),
        timeout=30,
    )


def sent(outbox: Path, endpoint_id: str | None = None) -> list[dict]:
    if not outbox.exists():
        return []
    return [json.loads(line) for line in outbox.read_text().splitlines()]


def appointment_row(env: dict[str, str], geo: str, sender: Sender, key: str = "APPT1") -> dict | None:
    table = TableServiceClient.from_connection_string(env[f"GEO_{geo}_STORAGE"]).get_table_client("appointments")
    try:
        rows = list(table.query_entities("PartitionKey eq @pk", parameters={"pk": sender.endpoint.id}))
    except ResourceNotFoundError:  # the geography never had an appointment
        return None
    return next((dict(row) for row in rows if row["RowKey"] == key), None)


def test_booking_to_one_confirmation_and_cancellation_drops_the_number(pipeline, config_env, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    host, sender, outbox = pipeline
    start = NOW + dt.timedelta(days=3)
    booking = siu("S12", control_id="b1", message_time=NOW, start=start)

    response = post(host, sender, booking)
    assert response.status_code == 200
    assert "MSA|AA|b1" in response.text
    wait_for(lambda: len(sent(outbox)) == 1)
    [confirmation] = sent(outbox)
    assert confirmation["text"].startswith("Riverside Clinic: your video visit is booked for")
    assert "/api/join#eu-" in confirmation["text"]
    assert confirmation["from"] == sender.endpoint.sms.from_number

    # The same message again (resent by the engine with a fresh token): nothing more is sent.
    assert post(host, sender, booking).status_code == 200
    time.sleep(2)
    assert len(sent(outbox)) == 1

    row = appointment_row(config_env, "EU", sender)
    assert row["Phone"] == PATIENT_PHONE
    assert all(appointment_row(config_env, geo, sender) is None for geo in KNOWN_GEOS if geo != "EU")

    cancel = siu("S15", control_id="x1", message_time=NOW + dt.timedelta(minutes=5), start=start)
    assert post(host, sender, cancel).status_code == 200
    wait_for(lambda: len(sent(outbox)) == 2)
    assert "is cancelled" in sent(outbox)[1]["text"]
    wait_for(lambda: "NoticePhone" not in appointment_row(config_env, "EU", sender))
    row = appointment_row(config_env, "EU", sender)
    assert "Phone" not in row
    assert row["Status"] == "cancelled"

    # Nothing of the patient reached the logs.
    logs = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (PATIENT_PHONE, PATIENT_PHONE[2:], "5550123", "DOE", "JANE"):
        assert secret not in logs


def test_out_of_order_and_cancel_before_book(pipeline, config_env) -> None:
    host, sender, outbox = pipeline
    start = NOW + dt.timedelta(days=2)
    later = start + dt.timedelta(hours=4)
    # The reschedule (newer) arrives before the booking (older): one confirmation, for the newer time.
    assert (
        post(
            host,
            sender,
            siu("S13", appointment_id="A2", control_id="r", message_time=NOW + dt.timedelta(minutes=5), start=later),
        ).status_code
        == 200
    )
    wait_for(lambda: len(sent(outbox)) == 1)
    assert (
        post(host, sender, siu("S12", appointment_id="A2", control_id="b", message_time=NOW, start=start)).status_code
        == 200
    )
    # A cancellation arrives before its booking: the late booking must not resurrect it.
    assert (
        post(
            host,
            sender,
            siu("S15", appointment_id="A3", control_id="c", message_time=NOW + dt.timedelta(minutes=9), start=start),
        ).status_code
        == 200
    )
    assert (
        post(host, sender, siu("S12", appointment_id="A3", control_id="b3", message_time=NOW, start=start)).status_code
        == 200
    )
    wait_for(lambda: appointment_row(config_env, "EU", sender, "A3") is not None)
    time.sleep(2)
    assert len(sent(outbox)) == 1
    assert appointment_row(config_env, "EU", sender, "A2")["Start"] == later
    assert appointment_row(config_env, "EU", sender, "A3")["Status"] == "cancelled"


def test_no_valid_phone_means_no_sms_and_non_siu_is_dropped(pipeline, config_env) -> None:
    host, sender, outbox = pipeline
    assert post(host, sender, siu(appointment_id="A4", phone="not a number")).status_code == 200
    adt = b"MSH|^~\\&|EPIC|RIVERSIDE|||20261121090000||ADT^A04|adt1|P|2.5\rPID|1||MRN\r"
    assert post(host, sender, adt).status_code == 200
    wait_for(lambda: appointment_row(config_env, "EU", sender, "A4") is not None)
    time.sleep(1)
    assert sent(outbox) == []
    assert "Phone" not in appointment_row(config_env, "EU", sender, "A4")


@pytest.mark.parametrize("version", ["23", "251", "28"])
def test_epic_samples_over_http_in_each_version(pipeline, config_env, version: str) -> None:
    """The project's samples, moved to lie ahead: book, reschedule, discontinue; then the same booking as
    sent (its visit long over) for another endpoint: stored, never texted."""
    host, sender, outbox = pipeline
    name = f"epic_v{version}_s12.hl7"
    expected = EXPECTED[name]
    ahead = dt.timedelta(days=(NOW.date() - dt.date(2025, 1, 1)).days + 30)
    for event, texts in (("S12", 1), ("S13", 2), ("S16", 2)):  # S16: no SMS by default
        message = f"epic_v{version}_{event.lower()}.hl7"
        response = post(host, sender, shifted(sample(message), ahead))
        assert response.status_code == 200, response.text
        assert f"MSA|AA|{EXPECTED[message].control_id}" in response.text
        wait_for(lambda texts=texts: len(sent(outbox)) == texts)
    booked, moved = sent(outbox)
    assert "is booked for" in booked["text"]
    assert booked["to"] == mask_phone(str(expected.phone))
    assert "/api/join#eu-" in moved["text"]
    wait_for(lambda: appointment_row(config_env, "EU", sender, expected.appointment_id)["Status"] == "discontinued")
    assert "Phone" not in appointment_row(config_env, "EU", sender, expected.appointment_id)

    other = seed_sender("EU")
    assert post(host, other, sample(name)).status_code == 200
    wait_for(lambda: appointment_row(config_env, "EU", other, expected.appointment_id) is not None)
    time.sleep(1)
    assert len(sent(outbox)) == 2


def test_a_batch_file_is_refused_whole_and_each_of_its_messages_accepted(pipeline) -> None:
    host, sender, _ = pipeline
    batch = sample(BATCH)
    refused = post(host, sender, batch)
    assert refused.status_code == 400
    assert "MSA|AR|" in refused.text
    assert "more than one message" in refused.text
    for body, expected in zip(batch_messages(batch), BATCH_EXPECTED, strict=True):
        accepted = post(host, sender, body)
        assert (accepted.status_code, f"MSA|AA|{expected.control_id}" in accepted.text) == (200, True)
