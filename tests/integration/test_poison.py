"""Poison messages on Azurite: kept no longer than the retention or their visit's purge, scrubbed when the
visit is over, listed without patient data, and replayed by the operator command."""

from __future__ import annotations

import datetime as dt
import json
import secrets

import pytest
from azure.functions.queue import QueueMessage

from shared import bootstrap
from shared.errors import NotFoundError, UpstreamError
from shared.operator import main as operator
from shared.queue_names import HL7_INBOUND_QUEUE
from shared.triggers.queue_work import run_queue_message
from tests.appcalls import call
from tests.hl7_support import seed_sender, siu

NAME = "QUARANTINE^PATIENCE"
PHONE = "^PRN^CP^^1^617^5550177"
DAY = dt.timedelta(days=1)


def delivery(payload: object, dequeue_count: int = 1) -> QueueMessage:
    """A delivery as the worker binds it (with its dequeue count)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return QueueMessage(id=secrets.token_hex(4), body=body, dequeue_count=dequeue_count)


def poisoned(geo: str, queue: str = HL7_INBOUND_QUEUE) -> list:
    client = bootstrap.get_storage().for_geo(geo).queue(f"{queue}-poison").client
    return list(client.peek_messages(max_messages=32))


def misrouted(start: dt.datetime, marker: str, phone: str = PHONE) -> dict:
    """A readable SIU of a US endpoint delivered to the EU function: it can never be applied there."""
    sender = seed_sender("US")
    body = siu(control_id=marker, start=start, phone=phone, patient=NAME).decode()
    return {"v": 1, "endpoint": sender.endpoint.id, "body": body}


def mine(messages: list, marker: str) -> list:
    return [m for m in messages if marker in m.content or json.loads(m.content).get("endpoint") == marker]


@pytest.mark.usefixtures("config_env")
def test_a_poison_message_is_kept_until_its_visit_is_purged_at_the_latest() -> None:
    marker = secrets.token_hex(6)
    start = dt.datetime.now(dt.UTC) + 2 * DAY
    call("process_hl7_message_eu", delivery(misrouted(start, marker)))
    [message] = mine(poisoned("EU"), marker)
    envelope = json.loads(message.content)
    assert "belongs to US" in envelope["reason"]
    assert marker in envelope["message"]["body"]  # kept whole, for a replay after a fix
    purge = start + dt.timedelta(minutes=30 + 60)  # end + PURGE_GRACE_MINUTES
    assert abs((message.expires_on - purge).total_seconds()) < 120  # sooner than the 7-day retention


@pytest.mark.usefixtures("config_env")
def test_a_poison_message_of_a_visit_already_over_is_scrubbed() -> None:
    marker = secrets.token_hex(6)
    payload = misrouted(dt.datetime.now(dt.UTC) - DAY, marker, phone="^PRN^CP^^1^617^5550166")
    call("process_hl7_message_eu", delivery(payload))
    scrubbed = [m for m in poisoned("EU") if json.loads(m.content).get("scrubbed")]
    assert scrubbed
    assert "belongs to US" in json.loads(scrubbed[-1].content)["reason"]
    for message in poisoned("EU"):
        assert "5550166" not in message.content


@pytest.mark.usefixtures("config_env")
def test_undecodable_and_finally_failing_messages_go_to_poison_with_the_retention() -> None:
    account = bootstrap.get_storage().for_geo("APAC")
    marker = secrets.token_hex(6)

    def fail(payload: object) -> None:
        raise UpstreamError("Storage unreachable (injected).", retryable=True)

    with pytest.raises(UpstreamError):  # not the last delivery: the host retries
        run_queue_message(delivery({"marker": marker}, 4), queue_name=HL7_INBOUND_QUEUE, account=account, work=fail)
    run_queue_message(delivery({"marker": marker}, 5), queue_name=HL7_INBOUND_QUEUE, account=account, work=fail)
    run_queue_message(
        delivery(b"not json " + marker.encode()), queue_name=HL7_INBOUND_QUEUE, account=account, work=fail
    )
    kept = [json.loads(m.content) | {"ttl": m.expires_on - m.inserted_on} for m in mine(poisoned("APAC"), marker)]
    assert sorted(item["reason"] for item in kept) == [
        "failed on every delivery: Storage unreachable (injected).",
        "not JSON",
    ]
    assert all(abs(item["ttl"] - 7 * DAY) < dt.timedelta(minutes=1) for item in kept)


def test_the_operator_lists_without_patient_data_and_replays_after_a_fix(config_env, capsys) -> None:
    marker = secrets.token_hex(6)
    payload = misrouted(dt.datetime.now(dt.UTC) + 2 * DAY, marker)
    call("process_hl7_message_eu", delivery(payload))
    [message] = mine(poisoned("EU"), marker)

    assert operator(["--settings", "/nonexistent.json", "poison", "list", "--geo", "EU"]) == 0
    listing = capsys.readouterr().out
    line = next(line for line in listing.splitlines() if message.id in line)
    assert payload["endpoint"] in line
    assert "belongs to US" in line
    for secret in ("5550177", "QUARANTINE", marker):
        assert secret not in listing

    args = ["--settings", "/nonexistent.json", "poison", "replay", "--geo", "EU", "--queue", HL7_INBOUND_QUEUE]
    assert operator([*args, message.id]) == 0
    assert mine(poisoned("EU"), marker) == []
    inbound = bootstrap.get_storage().for_geo("EU").queue(HL7_INBOUND_QUEUE).client
    replayed = [json.loads(m.content) for m in inbound.receive_messages(max_messages=32, visibility_timeout=1)]
    assert payload in replayed
    assert operator([*args, message.id]) == 1  # gone: nothing to replay twice


@pytest.mark.usefixtures("config_env")
def test_the_blob_of_a_large_poison_message_goes_when_its_poison_copy_does() -> None:
    from shared.adapters.expiring import Expiries
    from shared.services.hl7_ingress import OVERFLOW_CONTAINER

    account = bootstrap.get_storage().for_geo("EU")
    name = f"ep-x/{secrets.token_hex(8)}"
    account.container(OVERFLOW_CONTAINER).upload(name, b"MSH|^~\\&|... a large message")
    call("process_hl7_message_eu", delivery({"v": 1, "endpoint": "ep-unknown", "blob": name}, 5))  # last try
    [message] = [m for m in poisoned("EU") if name in m.content]
    Expiries(account).delete_due(message.expires_on - dt.timedelta(minutes=1))
    assert account.container(OVERFLOW_CONTAINER).download(name)
    Expiries(account).delete_due(message.expires_on + dt.timedelta(seconds=1))
    with pytest.raises(NotFoundError):
        account.container(OVERFLOW_CONTAINER).download(name)


@pytest.mark.usefixtures("config_env")
def test_an_sms_job_whose_number_was_purged_is_kept_scrubbed() -> None:
    from shared.domain.sms_job import SmsJob
    from shared.domain.sms_text import SmsKind
    from shared.queue_names import SMS_OUTBOUND_QUEUE
    from shared.services.poison import poison_message

    marker = secrets.token_hex(6)
    job = SmsJob(marker, "ep-gone", "APPT-GONE", SmsKind.REMINDER, "+18005550100", "+16175550155", "Hi QUARANTINE")
    poison_message(
        bootstrap.get_storage().for_geo("EU"),
        SMS_OUTBOUND_QUEUE,
        job.to_message(),
        "failed on every delivery: ACS throttled",
        endpoints=bootstrap.get_directory(),
        policy=bootstrap.get_poison_policy(),
        now=dt.datetime.now(dt.UTC),
    )
    kept = [json.loads(m.content) for m in poisoned("EU", SMS_OUTBOUND_QUEUE) if "ep-gone" in m.content]
    assert kept
    assert all(item["scrubbed"] and "message" not in item for item in kept)
    assert all("5550155" not in json.dumps(item) for item in kept)
