"""The sweep that cannot be fooled: after the purge window, every table, queue and blob of every Azurite
account is read in full, and no trace of the purged visit's patient is left: no phone number (E.164,
national or raw HL7), no name, no join token (nor its hash).

The same sweep runs first while the visit is on and must find the number where the design keeps it (the
appointment, the poison copy): a sweep that finds nothing then proves nothing after.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import time
from collections.abc import Iterator

from azure.data.tables import TableServiceClient
from azure.functions.queue import QueueMessage
from azure.functions.timer import TimerRequest
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueServiceClient

from shared import bootstrap
from shared.queue_names import HL7_INBOUND_QUEUE, SMS_OUTBOUND_QUEUE
from tests.appcalls import call
from tests.hl7_support import seed_sender, siu
from tests.integration.test_hl7_ingress import post

# A number and a name no other test uses: no other test's data can hide or fake a trace.
FORMS = ("+16175550142", "6175550142", "617-555-0142", "(617) 555-0142", "^617^5550142", "5550142")
NAME = ("SWEEPWELL", "ODETTE")


def everything(connection_string: str) -> Iterator[tuple[str, str]]:
    """(where, text) for every entity of every table, every message of every queue, every blob."""
    tables = TableServiceClient.from_connection_string(connection_string)
    for table in tables.list_tables():
        for entity in tables.get_table_client(table.name).list_entities():
            yield f"table {table.name}", json.dumps(dict(entity), default=str)
    queues = QueueServiceClient.from_connection_string(connection_string)
    for queue in queues.list_queues():
        client = queues.get_queue_client(queue.name)
        # Receive (peek stops at 32) with a lease long enough to see each message once, then let go.
        leased = list(client.receive_messages(messages_per_page=32, visibility_timeout=30))
        for message in leased:
            client.update_message(message, visibility_timeout=0)
            yield f"queue {queue.name}", message.content
    blobs = BlobServiceClient.from_connection_string(connection_string)
    for container in blobs.list_containers():
        client = blobs.get_container_client(container.name)
        for blob in client.list_blobs():
            yield f"blob {container.name}", client.download_blob(blob.name).readall().decode("utf-8", "replace")


def traces(azurite, secrets_: tuple[str, ...]) -> list[tuple[str, str, str]]:
    found = []
    for account in azurite.accounts:
        for where, text in everything(azurite.connection_string(account.name)):
            found.extend((account.name, where, secret) for secret in secrets_ if secret in text)
    return found


def drain(account, queue: str, function: str, dequeue_count: int = 1) -> int:
    """Run the app's queue function over what is queued, as the host would (one delivery each)."""
    client = account.queue(queue).client
    handled = 0
    for message in client.receive_messages(messages_per_page=32, visibility_timeout=30):
        call(function, QueueMessage(id=message.id, body=message.content.encode(), dequeue_count=dequeue_count))
        client.delete_message(message)
        handled += 1
    return handled


def test_after_the_purge_window_no_account_holds_a_trace_of_the_visit(azurite, config_env, monkeypatch) -> None:
    monkeypatch.setenv("PURGE_GRACE_MINUTES", "0")
    bootstrap.reset()
    sender = seed_sender("EU")
    eu = bootstrap.get_storage().for_geo("EU")
    now = dt.datetime.now(dt.UTC)
    start = now - dt.timedelta(minutes=30) + dt.timedelta(seconds=20)  # 30-minute visit, over in 20 s
    phone, patient = "^PRN^CP^^1^617^5550142", "SWEEPWELL^ODETTE"

    def message(event: str, control: str) -> bytes:
        return siu(event, control_id=control, message_time=now, start=start, phone=phone, patient=patient)

    booking = message("S12", f"sweep-{secrets.token_hex(4)}")
    # The booking again, an update, and a booking that arrives when its visit is long over (same patient).
    late = siu(
        control_id=f"sweep-{secrets.token_hex(4)}",
        appointment_id="SWEEP-LATE",
        message_time=now,
        start=now - dt.timedelta(hours=3),
        phone=phone,
        patient=patient,
    )
    for body in (booking, booking, message("S14", f"sweep-{secrets.token_hex(4)}"), late):
        assert post(sender, body, sender.headers(body)).status_code == 200
    # One copy also reaches the wrong geography's function: it can never apply there and is poisoned there.
    us = bootstrap.get_storage().for_geo("US")
    us.queue(HL7_INBOUND_QUEUE).send({"v": 1, "endpoint": sender.endpoint.id, "body": booking.decode()})
    assert drain(us, HL7_INBOUND_QUEUE, "process_hl7_message_us") == 1
    assert drain(eu, HL7_INBOUND_QUEUE, "process_hl7_message_eu") >= 4
    assert drain(eu, SMS_OUTBOUND_QUEUE, "send_sms_job_eu") >= 1
    token = _join_token(eu, sender.endpoint.id)
    secrets_ = (*FORMS, *NAME, token, hashlib.sha256(token.encode()).hexdigest())

    during = {(where, secret) for _, where, secret in traces(azurite, secrets_)}
    assert ("table appointments", "+16175550142") in during
    assert ("queue hl7-inbound-poison", "5550142") in during  # the sweep sees what it is looking for
    assert any(secret == token for _, secret in during)

    time.sleep(max((start + dt.timedelta(minutes=30) - dt.datetime.now(dt.UTC)).total_seconds(), 0) + 2)
    call("send_reminders_and_purge", TimerRequest())

    assert traces(azurite, secrets_) == []


def _join_token(account, endpoint_id: str) -> str:
    from shared.adapters.appointments import AppointmentStore

    appointment, _ = AppointmentStore(account).get(endpoint_id, "APPT1")
    assert appointment.join_token
    return appointment.join_token
