"""Every table's lifetime, enforced by the timer in O(what is due): no table is ever scanned.

Three shapes of deletion, each reading only rows that are due (the README's data table gives each table's
lifetime):

* shards with a time index (`ExpiringTable`): `sendertokens` after the token's validity, `authstates`
  and the portal's `portalsessions` after their expiry, and the `expiries` pointers (meeting maps after
  the visit): one row-key range per shard per tick;
* day partitions, once a day for the day that has just left the reporting period: `smsreport` and the
  `smsjobs` rows it names, and `visits`, one partition per endpoint of the geography; `devicetests` in
  the control account, one row-key range (time-prefixed keys) per endpoint;
* the schedule index (`shared/services/maintenance.py`): phone numbers and join links after the visit,
  appointment rows a reporting period later.

Days are handled in order behind a cursor (`timerstate`, row `retention`), which moves only over days
fully deleted, so a timer that was down catches up (at most `MAX_DAYS_PER_TICK` days per tick).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from shared.adapters.appointments import ScheduleIndex
from shared.adapters.config_store import ConfigStore
from shared.adapters.expiring import Expiries
from shared.adapters.portal_sessions import PortalSessions
from shared.adapters.sender_tokens import ReplayGuard
from shared.adapters.sms_jobs import REPORT_DAY_FORMAT, SMS_JOBS, SMS_REPORT, report_partition
from shared.adapters.storage import Storage, StorageAccount
from shared.adapters.visit_log import VISITS_TABLE, visit_day_partition
from shared.errors import ConflictError, ConnectorError, PreconditionFailedError
from shared.services.device_test import DEVICE_TESTS_TABLE

logger = logging.getLogger(__name__)

CURSOR = "retention"
MAX_DAYS_PER_TICK = 7
FIRST_LOOKBACK_DAYS = MAX_DAYS_PER_TICK - 1
"""How many days before the first due one the very first sweep of an account looks at (no cursor yet)."""


@dataclass
class LifetimeReport:
    account: str
    sender_tokens: int = 0
    auth_states: int = 0
    portal_sessions: int = 0
    pointed: int = 0
    """Rows named by `expiries` pointers (meeting maps, ...)."""
    report_rows: int = 0
    days: int = 0


def enforce_lifetimes(
    *,
    account: StorageAccount,
    endpoint_ids: Callable[[], list[str]],
    reporting_period: timedelta,
    now: datetime,
    control: bool = False,
) -> LifetimeReport:
    """Delete what is due in `account` (a geography's, or with `control` the control account's).

    `endpoint_ids()` lists the endpoints whose day partitions live there; it is called only when a day
    is due. Raises UpstreamError when storage fails (the next tick goes on from where this one stopped).
    """
    report = LifetimeReport(account.label)
    report.auth_states = ConfigStore(account).delete_expired_auth_states(now)
    report.pointed = Expiries(account).delete_due(now)
    if control:
        report.portal_sessions = PortalSessions(account).delete_expired(now)
    else:
        report.sender_tokens = ReplayGuard(account).delete_expired(now)
    index = ScheduleIndex(account)
    cursor, etag = index.get_cursor(CURSOR)
    last_due = (now.astimezone(UTC) - reporting_period).date() - timedelta(days=1)
    first = _next_day(cursor) if cursor else last_due - timedelta(days=FIRST_LOOKBACK_DAYS)
    days = [first + timedelta(days=n) for n in range((last_due - first).days + 1)][:MAX_DAYS_PER_TICK]
    if not days:
        return report
    endpoints = endpoint_ids()
    for day in days:
        for endpoint_id in endpoints:
            report.report_rows += (_delete_control_day if control else _delete_geo_day)(account, endpoint_id, day)
        report.days += 1
    try:
        index.advance_cursor(f"{days[-1]:{REPORT_DAY_FORMAT}}", etag, CURSOR)
    except (ConflictError, PreconditionFailedError):
        logger.info("Another tick of %s moved the retention cursor first", account.label)
    return report


def enforce_every_account(storage: Storage, reporting_period: timedelta, now: datetime) -> list[LifetimeReport]:
    """`enforce_lifetimes` in each geography's account and the control account; one that fails is logged
    and left for a later tick, the others go on."""
    config = ConfigStore(storage.control)
    accounts = [(storage.for_geo(geo), functools.partial(geo_endpoint_ids, config, geo), False) for geo in storage.geos]
    accounts.append((storage.control, functools.partial(all_endpoint_ids, config), True))
    reports = []
    for account, endpoint_ids, control in accounts:
        try:
            reports.append(
                enforce_lifetimes(
                    account=account,
                    endpoint_ids=endpoint_ids,
                    reporting_period=reporting_period,
                    now=now,
                    control=control,
                )
            )
        except ConnectorError as error:
            logger.error("Lifetimes in %s not enforced; the next tick retries: %s", account.label, error.message)
    return reports


def geo_endpoint_ids(config: ConfigStore, geo: str) -> list[str]:
    """The endpoints of every organisation of `geo`."""
    return [
        endpoint.value.id
        for organisation in config.list_every_organisation()
        if organisation.value.geo == geo
        for endpoint in config.list_endpoints(organisation.value.id)
    ]


def all_endpoint_ids(config: ConfigStore) -> list[str]:
    return [
        endpoint.value.id
        for organisation in config.list_every_organisation()
        for endpoint in config.list_endpoints(organisation.value.id)
    ]


def _delete_geo_day(account: StorageAccount, endpoint_id: str, day: date) -> int:
    """One endpoint's SMS report rows, their job rows, and its visit log of `day`."""
    stamp = f"{day:{REPORT_DAY_FORMAT}}"
    report, jobs, visits = account.table(SMS_REPORT), account.table(SMS_JOBS), account.table(VISITS_TABLE)
    report_partition_key = report_partition(endpoint_id, stamp)
    job_ids = [row.entity["RowKey"] for row in report.list_partition(report_partition_key, select=["RowKey"])]
    jobs.delete_many(endpoint_id, job_ids)  # jobs first: a crash leaves report rows that still name them
    report.delete_many(report_partition_key, job_ids)
    visit_partition_key = visit_day_partition(endpoint_id, stamp)
    visit_keys = [row.entity["RowKey"] for row in visits.list_partition(visit_partition_key, select=["RowKey"])]
    visits.delete_many(visit_partition_key, visit_keys)
    return 2 * len(job_ids) + len(visit_keys)


def _delete_control_day(account: StorageAccount, endpoint_id: str, day: date) -> int:
    """One endpoint's device-test results of `day` (row keys start with the UTC time)."""
    tests = account.table(DEVICE_TESTS_TABLE)
    keys = [
        row.entity["RowKey"]
        for row in tests.query(
            "PartitionKey eq @pk and RowKey ge @first and RowKey lt @next",
            {"pk": endpoint_id, "first": f"{day:%Y%m%d}", "next": f"{day + timedelta(days=1):%Y%m%d}"},
            select=["RowKey"],
        )
    ]
    tests.delete_many(endpoint_id, keys)
    return len(keys)


def _next_day(stamp: str) -> date:
    return datetime.strptime(stamp, REPORT_DAY_FORMAT).replace(tzinfo=UTC).date() + timedelta(days=1)
