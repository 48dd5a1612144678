"""Every table's lifetime on Azurite: what is due goes, what is not stays, and the timer reads only what is due."""

from __future__ import annotations

import datetime as dt
from datetime import timedelta

import pytest

from shared.adapters.config_store import AuthState, ConfigStore
from shared.adapters.expiring import Expiries
from shared.adapters.metering import StorageMeter
from shared.adapters.sms_jobs import SMS_JOBS, SMS_REPORT, report_partition
from shared.adapters.storage import StorageAccount
from shared.adapters.visit_log import VISITS_TABLE, visit_day_partition
from shared.errors import NotFoundError
from shared.services.device_test import DEVICE_TESTS_TABLE
from shared.services.meetings import MEETINGS_TABLE
from shared.services.retention import enforce_lifetimes
from shared.settings import StorageConnection

NOW = dt.datetime(2031, 6, 10, 12, 0, tzinfo=dt.UTC)
PERIOD = timedelta(days=400)
LAST_DUE = (NOW - PERIOD).date() - timedelta(days=1)  # the newest day outside the reporting period
ENDPOINTS = ["ep-a", "ep-b"]


def metered(account: StorageAccount) -> tuple[StorageAccount, StorageMeter]:
    meter = StorageMeter()
    connection = StorageConnection(setting="SPARE", connection_string=account.connection.connection_string)
    return StorageAccount(connection, meter=meter), meter


def count(account: StorageAccount, table: str) -> int:
    return sum(1 for _ in account.table(table).query("PartitionKey ne ''", {}))


def state(expires_at: dt.datetime) -> AuthState:
    return AuthState("ep-a", "", 0, "verifier", "https://epic.example/token", expires_at, "launch")


def seed_day(account: StorageAccount, day: dt.date, rows: int) -> None:
    stamp = f"{day:%Y%m%d}"
    for endpoint_id in ENDPOINTS:
        for number in range(rows):
            job = f"job-{stamp}-{number}"
            account.table(SMS_JOBS).upsert({"PartitionKey": endpoint_id, "RowKey": job, "ReportDay": stamp})
            account.table(SMS_REPORT).upsert({"PartitionKey": report_partition(endpoint_id, stamp), "RowKey": job})
            account.table(VISITS_TABLE).upsert(
                {"PartitionKey": visit_day_partition(endpoint_id, stamp), "RowKey": f"visit-{number}"}
            )


def test_unused_auth_states_go_after_their_expiry_and_used_ones_leave_nothing(spare_account: StorageAccount) -> None:
    store = ConfigStore(spare_account)
    store.create_auth_state("unused", state(NOW))
    store.create_auth_state("used", state(NOW))
    store.create_auth_state("later", state(NOW + timedelta(minutes=10)))
    store.take_auth_state("used", "launch")
    with pytest.raises(NotFoundError):
        store.take_auth_state("used", "launch")
    assert store.delete_expired_auth_states(NOW - timedelta(seconds=1)) == 0
    assert store.delete_expired_auth_states(NOW) == 1
    with pytest.raises(NotFoundError):
        store.take_auth_state("unused", "launch")
    assert count(spare_account, "authstates") == 2  # "later" and its index row
    assert store.take_auth_state("later", "launch").endpoint_id == "ep-a"
    assert count(spare_account, "authstates") == 0


def test_a_pointer_deletes_the_row_it_names_when_its_time_comes(spare_account: StorageAccount) -> None:
    meetings = spare_account.table(MEETINGS_TABLE)
    meetings.create({"PartitionKey": "ep-a", "RowKey": "visit-hash", "JoinUrl": "https://teams.example/x"})
    Expiries(spare_account).add(MEETINGS_TABLE, "ep-a", "visit-hash", NOW)
    Expiries(spare_account).add(MEETINGS_TABLE, "ep-a", "visit-hash", NOW + timedelta(days=9))  # keeps the first
    assert Expiries(spare_account).delete_due(NOW - timedelta(seconds=1)) == 0
    assert count(spare_account, MEETINGS_TABLE) == 1
    assert Expiries(spare_account).delete_due(NOW) == 1
    assert count(spare_account, MEETINGS_TABLE) == 0
    assert count(spare_account, "expiries") == 0


def test_report_rows_job_rows_and_the_visit_log_go_after_the_reporting_period(spare_account: StorageAccount) -> None:
    for day, rows in ((LAST_DUE - timedelta(days=1), 3), (LAST_DUE, 4), (LAST_DUE + timedelta(days=1), 5)):
        seed_day(spare_account, day, rows)
    account, meter = metered(spare_account)
    listed: list[int] = []

    def endpoint_ids() -> list[str]:
        listed.append(1)
        return ENDPOINTS

    report = enforce_lifetimes(account=account, endpoint_ids=endpoint_ids, reporting_period=PERIOD, now=NOW)
    # The first sweep looks a week back: the two days outside the period go, the day inside stays.
    assert (report.days, report.report_rows) == (7, 2 * 3 * (3 + 4))
    assert (count(spare_account, SMS_JOBS), count(spare_account, SMS_REPORT)) == (2 * 5, 2 * 5)
    assert count(spare_account, VISITS_TABLE) == 2 * 5
    meter.reset()
    again = enforce_lifetimes(account=account, endpoint_ids=endpoint_ids, reporting_period=PERIOD, now=NOW)
    assert (again.days, again.report_rows, len(listed)) == (0, 0, 1)  # nothing due: no endpoint listed
    assert meter.entities_read <= 1  # the cursor; the empty shard ranges read no entity
    next_day = enforce_lifetimes(
        account=account, endpoint_ids=endpoint_ids, reporting_period=PERIOD, now=NOW + timedelta(days=1)
    )
    assert (next_day.days, next_day.report_rows) == (1, 2 * 3 * 5)
    assert count(spare_account, SMS_JOBS) + count(spare_account, SMS_REPORT) + count(spare_account, VISITS_TABLE) == 0


def test_device_test_results_in_the_control_account_go_by_day(spare_account: StorageAccount) -> None:
    table = spare_account.table(DEVICE_TESTS_TABLE)
    for day in (LAST_DUE, LAST_DUE + timedelta(days=1)):
        for endpoint_id in ENDPOINTS:
            table.create({"PartitionKey": endpoint_id, "RowKey": f"{day:%Y%m%d}T101010000000Z-abcd1234"})
    report = enforce_lifetimes(
        account=spare_account, endpoint_ids=lambda: ENDPOINTS, reporting_period=PERIOD, now=NOW, control=True
    )
    assert report.report_rows == 2
    assert {row.entity["RowKey"][:8] for row in table.query("PartitionKey ne ''", {})} == {
        f"{LAST_DUE + timedelta(days=1):%Y%m%d}"
    }
