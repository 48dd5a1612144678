"""The timer on Azurite with a controllable clock: reminders at each lead time, reschedules, cancellations,
late ticks, racing ticks, a crash mid-tick, and the purge of phone numbers after the visit."""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass
from datetime import timedelta

import pytest
from azure.data.tables import TableServiceClient

from shared import bootstrap
from shared.adapters.appointments import SCHEDULE, AppointmentStore
from shared.adapters.opt_outs import OptOutList
from shared.adapters.outbox_sms import OutboxSmsSender
from shared.adapters.sms_jobs import JobLog
from shared.adapters.storage import StorageAccount
from shared.domain.config import Endpoint, Organisation
from shared.domain.sms_job import SmsJob
from shared.errors import UpstreamError
from shared.queue_names import SMS_OUTBOUND_QUEUE
from shared.services.maintenance import TickReport, run_tick
from shared.services.notices import NoticePolicy
from shared.services.scheduling import process_hl7_message
from shared.services.sms_jobs import send_sms_job
from tests.hl7_support import PATIENT_PHONE, Sender, seed_sender, siu

T0 = dt.datetime(2030, 3, 4, 9, 0, tzinfo=dt.UTC)
START = T0 + timedelta(days=3)
DAY, HOUR = timedelta(days=1), timedelta(hours=1)
GRACE = timedelta(minutes=60)


@dataclass
class World:
    sender: Sender
    account: StorageAccount
    directory: object
    policy: NoticePolicy

    def book(
        self, event: str = "S12", *, control: str, at: dt.datetime, start: dt.datetime = START, **fields: str
    ) -> str:
        payload = {
            "v": 1,
            "endpoint": self.sender.endpoint.id,
            "body": siu(event, control_id=control, message_time=at, start=start, **fields).decode(),
        }
        return process_hl7_message(
            payload,
            geo="EU",
            account=self.account,
            directory=self.directory,
            join_tokens=bootstrap.get_join_tokens(),
            policy=self.policy,
            now=at,
        )

    def tick(self, now: dt.datetime, directory: object | None = None) -> TickReport:
        return run_tick(
            geo="EU",
            account=self.account,
            directory=directory or self.directory,
            join_tokens=bootstrap.get_join_tokens(),
            policy=self.policy,
            now=now,
        )

    def jobs(self) -> list[SmsJob]:
        client = self.account.queue(SMS_OUTBOUND_QUEUE).client
        return [SmsJob.from_message(json.loads(m.content)) for m in client.peek_messages(max_messages=32)]

    def reminders(self) -> list[SmsJob]:
        return [job for job in self.jobs() if job.kind == "reminder"]

    def appointment(self):
        return AppointmentStore(self.account).get(self.sender.endpoint.id, "APPT1")[0]

    def pending(self) -> set[str]:
        """The kinds of every schedule-index row of this (test-owned) account, whatever its bucket."""
        return {row.entity["Kind"] for row in self.account.table(SCHEDULE).query("PartitionKey ne ''", {})}


@pytest.fixture
def world(config_env: dict[str, str], spare_account: StorageAccount) -> World:
    policy = NoticePolicy(
        public_base_url="http://127.0.0.1:7071", phone_region="US", purge_grace=GRACE, reporting_period=3 * DAY
    )
    return World(seed_sender("EU"), spare_account, bootstrap.get_directory(), policy)


def test_one_reminder_at_each_lead_time(world: World) -> None:
    world.book(control="b", at=T0)
    assert world.tick(START - DAY - timedelta(minutes=1)).reminders == 0
    assert world.tick(START - DAY).reminders == 1
    assert world.tick(START - DAY + timedelta(minutes=1)).reminders == 0  # handled entries are gone
    assert world.tick(START - HOUR).reminders == 1
    reminders = world.reminders()
    assert len({job.job_id for job in reminders}) == 2
    assert all("reminder" in job.text and "/api/join#eu-" in job.text for job in reminders)


def test_a_reschedule_before_the_reminder_moves_it(world: World) -> None:
    world.book(control="b", at=T0)
    moved = START + DAY
    world.book("S13", control="r", at=T0 + HOUR, start=moved)
    report = world.tick(START - DAY)
    assert (report.reminders, report.skipped) == (0, {"reminder stale": 1})
    assert world.tick(moved - DAY).reminders == 1


def test_a_reschedule_after_a_reminder_went_out_gets_reminders_for_the_new_time_only(world: World) -> None:
    world.book(control="b", at=T0)
    assert world.tick(START - DAY).reminders == 1
    moved = START + 2 * HOUR
    world.book("S13", control="r", at=START - DAY + HOUR, start=moved)
    # The old time's hour reminder is stale; the new time's day reminder is due (its moment came after the move).
    report = world.tick(START - HOUR)
    assert (report.reminders, report.skipped) == (1, {"reminder stale": 1})
    assert world.tick(moved - HOUR).reminders == 1
    assert [job.kind for job in world.jobs()] == ["scheduled", "reminder", "updated", "reminder", "reminder"]
    assert len({job.job_id for job in world.reminders()}) == 3


def test_a_cancelled_appointment_gets_no_reminder(world: World) -> None:
    world.book(control="b", at=T0)
    world.book("S15", control="c", at=T0 + HOUR)
    assert world.tick(START - DAY).reminders == 0
    assert world.tick(START - HOUR).reminders == 0
    assert world.reminders() == []


def test_a_late_timer_sends_before_the_visit_and_skips_after_it(world: World) -> None:
    world.book(control="b", at=T0)
    # Down for a day: at ten to the visit both reminders are due; only the closer one goes, late.
    report = world.tick(START - timedelta(minutes=10))
    assert (report.reminders, report.skipped) == (1, {"reminder superseded": 1})
    [reminder] = world.reminders()
    assert "reminder" in reminder.text


def test_a_timer_down_until_after_the_start_sends_nothing(world: World) -> None:
    world.book(control="b", at=T0)
    report = world.tick(START + timedelta(minutes=5))
    assert (report.reminders, report.skipped) == (0, {"reminder missed": 2})


def test_two_ticks_racing_send_each_reminder_once(world: World, tmp_path) -> None:
    world.book(control="b", at=T0)
    reports: list[TickReport] = []
    ticks = [threading.Thread(target=lambda: reports.append(world.tick(START - DAY))) for _ in range(2)]
    for tick in ticks:
        tick.start()
    for tick in ticks:
        tick.join()
    assert sum(report.reminders for report in reports) >= 1
    sender = OutboxSmsSender(str(tmp_path / "outbox.jsonl"))
    for job in world.jobs():
        send_sms_job(
            job,
            geo="US",
            log=JobLog(world.account),
            opt_outs=OptOutList(world.account, b"opt-out key for the maintenance tests"),
            sender=sender,
            queue=world.account.queue(SMS_OUTBOUND_QUEUE),
            now=START - DAY,
        )
    sent = [json.loads(line) for line in (tmp_path / "outbox.jsonl").read_text().splitlines()]
    assert sorted(item["kind"] if "kind" in item else item["text"].split(":")[1].split()[0] for item in sent) or sent
    assert len([line for line in sent if "reminder" in line["text"]]) == 1


class FailingOnce:
    """A directory whose first endpoint read fails as a storage outage would (fault injection at the port)."""

    def __init__(self, directory: object) -> None:
        self.directory, self.failed = directory, False

    def get_endpoint(self, endpoint_id: str) -> Endpoint:
        if not self.failed:
            self.failed = True
            raise UpstreamError("Storage unreachable (injected).", retryable=True)
        return self.directory.get_endpoint(endpoint_id)

    def get_organisation(self, org_id: str) -> Organisation:
        return self.directory.get_organisation(org_id)


def test_a_crash_in_the_middle_of_a_tick_loses_nothing(world: World) -> None:
    world.book(control="b", at=T0)
    world.book("S12", control="b2", at=T0)  # duplicate: nothing new
    report = world.tick(START - HOUR + timedelta(minutes=5), directory=FailingOnce(world.directory))
    # The day reminder (the appointment's next entry) failed and stays for the next tick; nothing is lost.
    assert (report.failed, report.reminders) == (1, 0)
    later = [world.tick(START - HOUR + timedelta(minutes=minute)) for minute in (6, 7)]
    assert sum(tick.reminders for tick in later) == 1  # the hour reminder: the day one is superseded
    assert all(tick.failed == 0 for tick in later)
    leftover = world.tick(START - HOUR + timedelta(minutes=8))
    assert (leftover.reminders, leftover.skipped, leftover.failed) == (0, {}, 0)
    assert len(world.reminders()) == 1


def test_the_purge_waits_for_the_end_plus_grace(world: World) -> None:
    world.book(control="b", at=T0)
    token = world.appointment().join_token
    end = START + timedelta(minutes=30)
    assert world.tick(end + GRACE - timedelta(minutes=1)).purged == 0
    assert world.appointment().phone == PATIENT_PHONE
    assert world.tick(end + GRACE).purged == 1
    purged = world.appointment()
    assert (purged.phone, purged.join_token, purged.status) == (None, None, "booked")
    assert bootstrap.get_join_tokens().find(token) is None
    assert bootstrap.get_join_tokens().find_ended(token) == world.sender.endpoint.id  # the link says the visit is over


def test_no_show_is_purged_the_same_way(world: World) -> None:
    world.book(control="b", at=T0)
    world.book("S26", control="n", at=START + timedelta(minutes=20))
    assert world.appointment().phone == PATIENT_PHONE
    assert world.tick(START + timedelta(minutes=30) + GRACE).purged == 1
    assert world.appointment().phone is None


def test_a_booking_of_a_visit_already_over_keeps_no_number_and_leaves_no_entry_behind(world: World) -> None:
    world.tick(T0)  # a running timer: its cursor is past every earlier hour
    past = T0 - 3 * DAY
    world.book(control="late", at=T0 + 2 * HOUR, start=past)
    late = world.appointment()
    assert (late.phone, late.join_token, late.start) == (None, None, past)
    report = world.tick(T0 + 2 * HOUR + timedelta(minutes=1))
    assert report.purged == 1
    assert world.pending() == {"forget"}  # only the end of the reporting period is ahead


def test_a_reschedule_after_the_purge_brings_the_number_back_only_for_a_visit_ahead(world: World) -> None:
    world.book(control="b", at=T0)
    end = START + timedelta(minutes=30)
    assert world.tick(end + GRACE).purged == 1
    world.tick(end + GRACE + 2 * HOUR)
    # Moved to an hour earlier after the visit: still over, so nothing comes back.
    world.book("S13", control="r1", at=end + 3 * HOUR, start=START - HOUR)
    assert (world.appointment().phone, world.appointment().join_token) == (None, None)
    assert world.tick(end + 3 * HOUR + timedelta(minutes=1)).purged == 1
    assert world.pending() == {"forget"}  # only the end of the reporting period is ahead
    # Moved to next week (a real new time): the number and a new link return until that visit is over.
    ahead = START + 7 * DAY
    world.book("S13", control="r2", at=end + 4 * HOUR, start=ahead)
    assert world.appointment().phone == PATIENT_PHONE
    assert world.appointment().join_token
    assert world.tick(ahead + timedelta(minutes=30) + GRACE).purged == 1
    assert (world.appointment().phone, world.appointment().join_token) == (None, None)
    assert world.pending() == {"forget"}  # only the end of the reporting period is ahead


def test_a_timer_clock_that_jumped_ahead_and_back_still_purges(world: World) -> None:
    world.tick(T0 + 5 * DAY)  # the timer's clock jumps five days ahead: its cursor follows
    world.tick(T0)  # and back
    world.book(control="b", at=T0 + timedelta(minutes=1))
    end = START + timedelta(minutes=30)
    assert world.tick(START - DAY).reminders == 1
    assert world.tick(end + GRACE).purged == 1
    assert world.appointment().phone is None
    assert world.pending() == {"forget"}  # only the end of the reporting period is ahead


def test_an_entry_written_by_a_lagging_clock_after_the_timer_passed_its_hour_is_still_due(world: World) -> None:
    start = START + timedelta(minutes=30)  # hour reminder due at :30 of the hour before
    world.tick(start - timedelta(minutes=29))  # the timer, at the next hour, finished the reminder's hour
    world.book(control="b", at=start - HOUR - timedelta(minutes=1), start=start)  # the writer's clock lags
    report = world.tick(start - timedelta(minutes=28))
    assert report.reminders == 1


def test_the_appointment_row_goes_a_reporting_period_after_its_purge(world: World) -> None:
    world.book(control="b", at=T0)
    purge = START + timedelta(minutes=30) + GRACE
    assert world.tick(purge).purged == 1
    assert world.tick(purge + world.policy.reporting_period - timedelta(minutes=1)).forgotten == 0
    assert world.appointment().start == START  # reports still see it
    assert world.tick(purge + world.policy.reporting_period).forgotten == 1
    assert AppointmentStore(world.account).find(world.sender.endpoint.id, "APPT1") == (None, None)
    assert world.pending() == set()


def test_after_the_purge_window_no_table_of_any_geography_holds_the_number(
    world: World, config_env: dict[str, str]
) -> None:
    phone = "^PRN^CP^^1^617^5550199"  # a number no other test uses: the sweep covers shared accounts too
    world.book(control="b", at=T0, phone=phone)
    world.book("S12", control="b9", at=T0, phone=phone)  # duplicate
    assert world.appointment().phone == "+16175550199"
    world.tick(START + timedelta(minutes=30) + GRACE)
    connection_strings = [config_env[f"GEO_{geo}_STORAGE"] for geo in ("US", "EU", "APAC")]
    connection_strings.append(world.account.connection.connection_string)
    digits = "6175550199"
    for connection_string in connection_strings:
        service = TableServiceClient.from_connection_string(connection_string)
        for table in service.list_tables():
            for entity in service.get_table_client(table.name).list_entities():
                assert digits not in json.dumps(dict(entity), default=str), table.name


def test_the_timer_function_purges_through_the_app(config_env: dict[str, str], monkeypatch) -> None:
    """The trigger as the host calls it: real clock, every served geography, purge of a visit that is over."""
    from azure.functions.timer import TimerRequest

    from tests.appcalls import call

    monkeypatch.setenv("PURGE_GRACE_MINUTES", "0")
    bootstrap.reset()
    sender = seed_sender("EU")
    account = bootstrap.get_storage().for_geo("EU")
    now = dt.datetime.now(dt.UTC)
    payload = {
        "v": 1,
        "endpoint": sender.endpoint.id,
        "body": siu(control_id="past", message_time=now - 3 * HOUR, start=now - 2 * HOUR).decode(),
    }
    process_hl7_message(
        payload,
        geo="EU",
        account=account,
        directory=bootstrap.get_directory(),
        join_tokens=bootstrap.get_join_tokens(),
        policy=bootstrap.get_notice_policy(),
        now=now - 3 * HOUR,
    )
    assert AppointmentStore(account).get(sender.endpoint.id, "APPT1")[0].phone == PATIENT_PHONE

    call("send_reminders_and_purge", TimerRequest())

    assert AppointmentStore(account).get(sender.endpoint.id, "APPT1")[0].phone is None
