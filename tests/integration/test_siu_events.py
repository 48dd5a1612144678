"""Every SIU event of the project's samples, in HL7 2.3, 2.5.1 and 2.8, applied through the hl7-inbound
work against Azurite: what each does to the appointment and which SMS it queues."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import secrets
from dataclasses import dataclass

import azure.functions as func
import pytest
from azure.core.exceptions import ResourceNotFoundError

from shared import bootstrap
from shared.adapters.appointments import AppointmentStore
from shared.adapters.storage import StorageAccount
from shared.domain.appointment import MAX_APPOINTMENT_KEY_LENGTH, Appointment, Status, appointment_key
from shared.domain.config import SmsSettings
from shared.domain.sms_job import SmsJob
from shared.queue_names import HL7_INBOUND_QUEUE, SMS_OUTBOUND_QUEUE
from shared.services.maintenance import run_tick
from shared.services.notices import NoticePolicy
from shared.services.scheduling import process_hl7_message
from tests.appcalls import call
from tests.hl7_support import FROM_NUMBER, Sender, seed_sender
from tests.samples import EXPECTED, sample

BEFORE_THE_VISITS = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
AFTER_THE_VISITS = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
POLICY = NoticePolicy(public_base_url="http://127.0.0.1:7071", phone_region="US", purge_grace=dt.timedelta(hours=1))
VERSIONS = ["23", "251", "28"]


@dataclass
class Feed:
    """One endpoint receiving one version's samples."""

    version: str
    sender: Sender
    account: StorageAccount

    def post(self, event: str, now: dt.datetime = BEFORE_THE_VISITS) -> str:
        body = sample(self.name(event)).decode("utf-8")
        payload = {"v": 1, "endpoint": self.sender.endpoint.id, "body": body}
        return process_hl7_message(
            payload,
            geo="EU",
            account=self.account,
            directory=bootstrap.get_directory(),
            join_tokens=bootstrap.get_join_tokens(),
            policy=POLICY,
            now=now,
        )

    def name(self, event: str) -> str:
        return f"epic_v{self.version}_{event.lower()}.hl7"

    def appointment(self) -> Appointment:
        key = appointment_key(EXPECTED[self.name("S12")].appointment_id)
        return AppointmentStore(self.account).get(self.sender.endpoint.id, key)[0]

    def jobs(self) -> list[SmsJob]:
        client = self.account.queue(SMS_OUTBOUND_QUEUE).client
        jobs = [SmsJob.from_message(json.loads(m.content)) for m in client.peek_messages(max_messages=32)]
        return [job for job in jobs if job.endpoint_id == self.sender.endpoint.id]

    def kinds(self) -> list[str]:
        return [str(job.kind) for job in self.jobs()]


@pytest.fixture
def feeds(config_env: dict[str, str], spare_account: StorageAccount):
    def make(version: str, *, discontinuation_notice: bool = False) -> Feed:
        sms = SmsSettings(True, True, (1440, 60), FROM_NUMBER, discontinuation_notice_enabled=discontinuation_notice)
        return Feed(version, seed_sender("EU", sms=sms), spare_account)

    return make


@pytest.mark.parametrize("version", VERSIONS)
def test_book_reschedule_modify_cancel(feeds, version: str) -> None:
    feed = feeds(version)
    assert [feed.post(event) for event in ("S12", "S13", "S14", "S15")] == ["applied"] * 4
    assert feed.kinds() == ["scheduled", "updated", "cancelled"]  # S14 keeps the S13 time: nothing to tell
    assert {job.to_number for job in feed.jobs()} == {EXPECTED[feed.name("S12")].phone}
    state = feed.appointment()
    assert (state.status, state.phone, state.notice_phone) == (Status.CANCELLED, None, None)
    expected = EXPECTED[feed.name("S14")]
    assert state.start is not None
    assert (state.start, state.duration_minutes) == (dt.datetime.fromisoformat(expected.start), expected.minutes)


@pytest.mark.parametrize("version", VERSIONS)
def test_discontinue_stops_reminders_and_by_default_texts_nobody(feeds, version: str) -> None:
    feed = feeds(version)
    feed.post("S12")
    feed.post("S16")
    assert feed.kinds() == ["scheduled"]
    state = feed.appointment()
    assert (state.status, state.phone) == (Status.DISCONTINUED, None)
    assert state.start is not None
    report = run_tick(
        geo="EU",
        account=feed.account,
        directory=bootstrap.get_directory(),
        join_tokens=bootstrap.get_join_tokens(),
        policy=POLICY,
        now=state.start - dt.timedelta(minutes=30),  # both reminders (1440 and 60 minutes ahead) are due
    )
    assert report is not None
    assert feed.kinds() == ["scheduled"]


@pytest.mark.parametrize("version", VERSIONS)
def test_discontinue_texts_the_cancellation_when_the_endpoint_asks_for_it(feeds, version: str) -> None:
    feed = feeds(version, discontinuation_notice=True)
    feed.post("S12")
    feed.post("S16")
    assert feed.kinds() == ["scheduled", "cancelled"]
    assert feed.appointment().status is Status.DISCONTINUED


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("event", "status", "kinds", "keeps_phone"), [
    ("S17", Status.DELETED, ["scheduled", "cancelled"], False),
    ("S26", Status.NO_SHOW, ["scheduled"], True),
])  # fmt: skip
def test_delete_and_no_show(feeds, version: str, event: str, status: Status, kinds: list[str], keeps_phone) -> None:
    feed = feeds(version)
    feed.post("S12")
    feed.post(event)
    assert feed.kinds() == kinds
    state = feed.appointment()
    assert state.status is status
    assert (state.phone is not None) is keeps_phone


@pytest.mark.parametrize("version", VERSIONS)
def test_a_booking_for_a_visit_that_is_over_is_stored_without_a_confirmation(feeds, version: str) -> None:
    feed = feeds(version)
    assert feed.post("S12", now=AFTER_THE_VISITS) == "applied"
    assert feed.kinds() == []
    state = feed.appointment()
    assert (state.status, state.pending_notice) == (Status.BOOKED, None)


@pytest.mark.parametrize("version", VERSIONS)
def test_other_siu_events_are_acknowledged_and_ignored(feeds, version: str) -> None:
    feed = feeds(version)
    body = sample(feed.name("S12")).decode("utf-8").replace("|SIU^S12", "|SIU^S18", 1)
    payload = {"v": 1, "endpoint": feed.sender.endpoint.id, "body": body}
    outcome = process_hl7_message(
        payload,
        geo="EU",
        account=feed.account,
        directory=bootstrap.get_directory(),
        join_tokens=bootstrap.get_join_tokens(),
        policy=POLICY,
        now=BEFORE_THE_VISITS,
    )
    assert outcome == "ignored"
    assert feed.kinds() == []


@pytest.mark.parametrize("version", VERSIONS)
def test_a_message_that_can_never_be_applied_is_recorded_and_completed_not_retried(
    config_env: dict[str, str], version: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A message queued before the ingress checked content (or by an older version): one try, then the
    poison queue with its reason, and the queue function completes instead of raising for host retries."""
    sender = seed_sender("EU")
    account = bootstrap.get_storage().for_geo("EU")
    with contextlib.suppress(ResourceNotFoundError):  # a peek shows 32 at most: start from an empty queue
        account.queue(f"{HL7_INBOUND_QUEUE}-poison").client.clear_messages()
    csn = EXPECTED[f"epic_v{version}_s12.hl7"].appointment_id
    body = sample(f"epic_v{version}_s12.hl7").decode("utf-8").replace(f"{csn}^EPC", "9" * 600 + "^EPC")
    payload = {"v": 1, "endpoint": sender.endpoint.id, "body": body}
    message = func.QueueMessage(id=secrets.token_hex(4), body=json.dumps(payload).encode())
    call("process_hl7_message_eu", message)  # returns: nothing for the host to retry

    poisoned = account.queue(f"{HL7_INBOUND_QUEUE}-poison").client.peek_messages(max_messages=32)
    assert any(json.loads(m.content)["message"]["endpoint"] == sender.endpoint.id for m in poisoned)
    assert "appointment id in SCH-2/SCH-1 is too long" in caplog.text
    assert AppointmentStore(account).find(sender.endpoint.id, appointment_key("9" * 600)) == (None, None)


def test_the_longest_appointment_id_the_ingress_accepts_fits_every_table(feeds) -> None:
    feed = feeds("28")
    longest = "9" * MAX_APPOINTMENT_KEY_LENGTH
    body = sample(feed.name("S12")).decode("utf-8").replace(f"{EXPECTED[feed.name('S12')].appointment_id}^EPC", longest)
    payload = {"v": 1, "endpoint": feed.sender.endpoint.id, "body": body}
    outcome = process_hl7_message(
        payload,
        geo="EU",
        account=feed.account,
        directory=bootstrap.get_directory(),
        join_tokens=bootstrap.get_join_tokens(),
        policy=POLICY,
        now=BEFORE_THE_VISITS,
    )
    assert outcome == "applied"
    assert feed.kinds() == ["scheduled"]
    state, _ = AppointmentStore(feed.account).get(feed.sender.endpoint.id, appointment_key(longest))
    assert state.status is Status.BOOKED
