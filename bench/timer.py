"""Timer tick cost against the data stored: 10,000 then 100,000 future appointments, 100 of them due.

For each size: seed the appointments and their schedule-index rows straight into an in-memory Azurite
(batched, so seeding stays quick), and a tenth as many replay-guard rows still valid plus 100 expired;
then run one tick of the real timer service with every table's lifetime in force (reminders and purges,
then `enforce_lifetimes`) and print entities read, storage transactions and wall time. Goal: both ticks
read the same order of entities (within 1.2x of each other) and at most 3 entities per due item plus a
constant. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as `python bench/timer.py`: the app and tests/ import from the root

from azure.data.tables import TableServiceClient  # noqa: E402

from shared import bootstrap  # noqa: E402
from shared.adapters.appointments import APPOINTMENTS, SCHEDULE, appointment_entity, schedule_entity  # noqa: E402
from shared.adapters.metering import StorageMeter  # noqa: E402
from shared.adapters.sender_tokens import ReplayGuard  # noqa: E402
from shared.devhost.azurite import Azurite  # noqa: E402
from shared.domain.appointment import Appointment, Status  # noqa: E402
from shared.domain.schedule import bucket_of, first_entry  # noqa: E402
from shared.services.maintenance import run_tick  # noqa: E402
from shared.services.retention import enforce_lifetimes  # noqa: E402
from tests.hl7_support import seed_sender  # noqa: E402

DUE = 100
LEADS = (1440, 60)
STORED_ENDPOINTS = 20
BATCH = 100  # Azure Tables entity-group transactions: at most 100 operations, one partition


def seed(service: TableServiceClient, endpoint_id: str, count: int, due: int, now: datetime) -> None:
    """`count` future appointments (spread over 30 days and over STORED_ENDPOINTS other endpoints, as a health
    system's would be) and `due` of `endpoint_id` whose hour reminder is due now."""
    appointments, index = service.get_table_client(APPOINTMENTS), service.get_table_client(SCHEDULE)
    by_partition: dict[str, list[dict]] = defaultdict(list)
    rows = []
    for number in range(count + due):
        start = now + timedelta(minutes=60) if number < due else now + timedelta(days=2, minutes=number % 40_000)
        appointment = Appointment(
            Status.BOOKED,
            start,
            30,
            "+16175550123",
            "EPIC|H",
            f"c{number}",
            now,
            schedule_version=1,
            join_token=f"eu-bench{number}",
        )
        key = f"A{number}"
        owner = endpoint_id if number < due else f"ep-stored-{number % STORED_ENDPOINTS}"
        rows.append(appointment_entity(owner, key, appointment))
        # The index holds each appointment's next entry; for the due ones, their hour reminder is due now.
        entry = first_entry(
            endpoint_id,
            key,
            appointment,
            reminder_leads=LEADS,
            purge_grace=timedelta(hours=1),
            now=now - timedelta(seconds=1),
        )
        row = schedule_entity(entry)
        by_partition[row["PartitionKey"]].append(row)
    by_owner: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_owner[row["PartitionKey"]].append(row)
    for owner_rows in by_owner.values():
        for offset in range(0, len(owner_rows), BATCH):
            appointments.submit_transaction([("create", row) for row in owner_rows[offset : offset + BATCH]])
    for partition_rows in by_partition.values():
        for offset in range(0, len(partition_rows), BATCH):
            index.submit_transaction([("create", row) for row in partition_rows[offset : offset + BATCH]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    azurite = Azurite.for_every_geo()
    azurite.start()
    try:
        print(f"Timer tick with {DUE} due items (hour reminders), reminder leads {LEADS}, on Azurite")
        print(
            f"{'stored':>9}  {'entities read':>13}  {'of it lifetimes':>15}  {'per due item':>12}  {'transactions':>12}"
            f"  {'wall ms':>8}  {'seed s':>6}"
        )
        results = []
        for size in args.sizes:
            results.append(run_one(azurite, size))
        (_, small_read, *_), (_, large_read, *_) = results[0], results[-1]
        print(f"ratio of entities read, largest / smallest: {large_read / small_read:.2f}  (goal: <= 1.2)")
    finally:
        azurite.stop()


def run_one(azurite: Azurite, size: int) -> tuple[int, int, int, float]:
    """A fresh geography account per size (Azurite accounts are fixed at start: reuse EU, cleared)."""
    settings = azurite.storage_settings("http://127.0.0.1:7071")
    opt_out_key = base64.b64encode(secrets.token_bytes(32)).decode()
    os.environ.update(
        {**settings, "SMS_PROVIDER": "outbox", "SMS_OUTBOX_PATH": os.devnull, "OPT_OUT_HASH_KEY": opt_out_key}
    )
    bootstrap.reset()
    service = TableServiceClient.from_connection_string(settings["GEO_EU_STORAGE"])
    for table in (APPOINTMENTS, SCHEDULE, "timerstate", "sendertokens"):
        service.delete_table(table)
    bootstrap.reset()
    sender = seed_sender("EU")
    account = bootstrap.get_storage().for_geo("EU")
    for table in (APPOINTMENTS, SCHEDULE):
        account.table(table)
    now = datetime.now(UTC).replace(second=30, microsecond=0) + timedelta(minutes=1)
    started = time.perf_counter()
    seed(service, sender.endpoint.id, size, DUE, now)
    guard = ReplayGuard(account)
    for number in range(size // 10 + DUE):
        guard.use_once(sender.endpoint.id, f"jti-{number}", now + timedelta(minutes=-1 if number < DUE else 5))
    seeding = time.perf_counter() - started
    # A running system: the cursor says every bucket before the current one was handled.
    account.table("timerstate").upsert(
        {"PartitionKey": "cursor", "RowKey": "schedule", "Bucket": bucket_of(now - timedelta(hours=1))}
    )
    directory = bootstrap.get_directory()
    directory.get_endpoint(sender.endpoint.id)  # warm the per-process cache, as a running instance has it
    directory.get_organisation(sender.endpoint.org_id)
    meter = StorageMeter()
    bootstrap.use_storage_meter(meter)
    account = bootstrap.get_storage().for_geo("EU")
    account.table(SCHEDULE), account.table(APPOINTMENTS), account.table("timerstate")
    account.queue("sms-outbound")
    meter.reset()
    started = time.perf_counter()
    report = run_tick(
        geo="EU",
        account=account,
        directory=directory,
        join_tokens=bootstrap.get_join_tokens(),
        policy=bootstrap.get_notice_policy(),
        now=now + timedelta(minutes=1),
    )
    read_by_tick = meter.entities_read
    lifetimes = enforce_lifetimes(
        account=account,
        endpoint_ids=lambda: [sender.endpoint.id, *(f"ep-stored-{n}" for n in range(STORED_ENDPOINTS))],
        reporting_period=timedelta(days=400),
        now=now + timedelta(minutes=1),
    )
    wall = time.perf_counter() - started
    bootstrap.use_storage_meter(None)
    assert report.reminders == DUE, report  # the benchmark measured the work it claims to
    assert lifetimes.sender_tokens == DUE, lifetimes
    print(
        f"{size:>9,}  {meter.entities_read:>13}  {meter.entities_read - read_by_tick:>15}"
        f"  {meter.entities_read / DUE:>12.2f}  {meter.transactions:>12}  {wall * 1000:>8.0f}  {seeding:>6.0f}"
    )
    return size, meter.entities_read, meter.transactions, wall


if __name__ == "__main__":
    main()
