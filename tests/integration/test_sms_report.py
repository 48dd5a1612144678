"""The SMS report over the day-partitioned index: exactly the range's rows, page by page, JSON and CSV, admins only."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from localworld.entra import EntraStandIn
from shared import bootstrap
from shared.adapters.metering import StorageMeter
from shared.adapters.sms_jobs import SMS_REPORT, report_partition
from shared.adapters.storage import Storage
from shared.domain.access import ADMIN_ROLE
from shared.services.reports import SMS, endpoint_report
from shared.settings import get_settings
from tests.appcalls import call
from tests.hl7_support import Sender, seed_sender
from tests.report_support import app_settings, report_request, upsert_in_batches

GEO = "APAC"
DAY0 = datetime(2026, 3, 2, tzinfo=UTC)
IN_RANGE_DAYS = 5
PER_DAY = 400
KINDS = ("scheduled", "updated", "cancelled", "reminder")


def seed_rows(endpoint_id: str, first_day: datetime, days: int, per_day: int) -> None:
    """Report rows as JobLog writes them."""
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        rows = [
            {
                "PartitionKey": report_partition(endpoint_id, f"{day:%Y%m%d}"),
                "RowKey": f"{number:05d}-{uuid.uuid4().hex[:8]}",
                "SentAt": day + timedelta(seconds=number),
                "From": "+18005550100",
                "Kind": KINDS[number % 4],
                "Status": "sent" if number % 10 else "failed",
                "Reason": "" if number % 10 else "ACS refused the recipient (400): [number]",
                "Delivery": "delivered" if number % 3 else "unreachable",
            }
            for number in range(per_day)
        ]
        upsert_in_batches(GEO, SMS_REPORT, rows)


@pytest.fixture(scope="module")
def seeded(storage_env: dict[str, str]) -> dict[str, str]:
    """One endpoint with 2,000 SMS over five days, plus 1,000 rows the report must not read: the days around
    the range, and another endpoint on the same days."""
    with app_settings(storage_env):
        sender = seed_sender(GEO)
        other = seed_sender(GEO)
        seed_rows(sender.endpoint.id, DAY0, IN_RANGE_DAYS, PER_DAY)
        seed_rows(sender.endpoint.id, DAY0 - timedelta(days=1), 1, 250)
        seed_rows(sender.endpoint.id, DAY0 + timedelta(days=IN_RANGE_DAYS), 1, 250)
        seed_rows(other.endpoint.id, DAY0, 2, 250)
    return {"endpoint": sender.endpoint.id}


RANGE = {"from": f"{DAY0:%Y-%m-%d}", "to": f"{DAY0 + timedelta(days=IN_RANGE_DAYS - 1):%Y-%m-%d}"}


def request(endpoint_id: str, params: dict[str, str], token: str | None, accept: str = "application/json"):
    return report_request("sms", endpoint_id, params, token, accept)


def test_paging_reads_exactly_the_rows_of_the_range(seeded: dict[str, str], config_env, entra: EntraStandIn) -> None:
    meter = StorageMeter()
    storage = Storage(get_settings(), meter=meter)
    caller = bootstrap.get_token_validator().validate(f"Bearer {entra.admin_token()}")
    storage.for_geo(GEO).table(SMS_REPORT)  # table creation is not part of the count
    meter.reset()
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        query = {**RANGE, "limit": "500", **({"continuation": token} if token else {})}
        page = endpoint_report(SMS, bootstrap.get_config_store(), storage, caller, seeded["endpoint"], query)
        pages += 1
        seen.extend(item["jobId"] for item in page.items)
        token = page.continuation
        if token is None:
            break
    assert len(seen) == len(set(seen)) == IN_RANGE_DAYS * PER_DAY
    assert pages in (4, 5)  # the last page may be empty when the range ends on a page boundary
    assert meter.entities_read == IN_RANGE_DAYS * PER_DAY
    print(f"SMS report: {meter.entities_read} entities in {meter.transactions} requests over {pages} pages")


def test_json_rows_carry_the_report_fields_and_no_patient_data(seeded, config_env, entra: EntraStandIn) -> None:
    response = call("get_sms_report", request(seeded["endpoint"], {**RANGE, "limit": "10"}, entra.admin_token()))
    assert response.status_code == 200
    document = json.loads(response.get_body())
    assert len(document["items"]) == 10
    assert document["continuation"]
    first = document["items"][0]
    assert set(first) == {
        "jobId",
        "sentAt",
        "from",
        "type",
        "language",
        "segments",
        "status",
        "resent",
        "delivery",
        "reason",
    }
    assert first["type"] in KINDS
    assert first["sentAt"].startswith(RANGE["from"])
    assert "+1617" not in response.get_body().decode()


def test_csv_has_a_header_and_the_continuation_in_a_header(seeded, config_env, entra: EntraStandIn) -> None:
    response = call(
        "get_sms_report", request(seeded["endpoint"], {**RANGE, "limit": "3"}, entra.admin_token(), "text/csv")
    )
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_body().decode())))
    assert rows[0] == [
        "jobId",
        "sentAt",
        "from",
        "type",
        "language",
        "segments",
        "status",
        "resent",
        "delivery",
        "reason",
    ]
    assert len(rows) == 4
    token = response.headers["X-Continuation-Token"]
    following = call(
        "get_sms_report",
        request(seeded["endpoint"], {**RANGE, "limit": "3", "continuation": token}, entra.admin_token(), "text/csv"),
    )
    next_rows = list(csv.reader(io.StringIO(following.get_body().decode())))
    assert next_rows[1][0] > rows[3][0]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"from": "2026-03-02"},
        {"from": "2026-03-05", "to": "2026-03-02"},
        {"from": "2026-01-01", "to": "2026-03-02"},
        {"from": "yesterday", "to": "today"},
        {**RANGE, "limit": "0"},
        {**RANGE, "continuation": "not-a-token"},
        {"from": "2026-04-01", "to": "2026-04-02", "continuation": "eyJkIjoiMjAyNjAzMDIiLCJyIjoiIn0"},
    ],
)
def test_bad_queries_get_a_clear_400(seeded, config_env, entra: EntraStandIn, params: dict[str, str]) -> None:
    response = call("get_sms_report", request(seeded["endpoint"], params, entra.admin_token()))
    assert response.status_code == 400
    assert json.loads(response.get_body())["code"] == "invalid_request"


def test_only_admins_may_read_reports(seeded, config_env, entra: EntraStandIn) -> None:
    assert call("get_sms_report", request(seeded["endpoint"], RANGE, None)).status_code == 401
    user = entra.token("someone@hospital.example", roles=())
    assert call("get_sms_report", request(seeded["endpoint"], RANGE, user)).status_code == 403
    admin = entra.token("admin@hospital.example", roles=(ADMIN_ROLE,))
    assert call("get_sms_report", request("ep-nope", RANGE, admin)).status_code == 404


def test_a_job_logged_by_the_sender_appears_in_the_report(app_env, config_env, entra: EntraStandIn) -> None:
    from shared.adapters.sms_jobs import JobLog, JobStatus
    from shared.domain.sms_job import SmsJob
    from shared.domain.sms_text import SmsKind

    sender: Sender = seed_sender(GEO)
    job = SmsJob(uuid.uuid4().hex, sender.endpoint.id, "A1", SmsKind.CANCELLED, "+18005550100", "+16175550123", "x")
    log = JobLog(bootstrap.get_storage().for_geo(GEO))
    sent_at = DAY0 + timedelta(hours=3)
    log.record(log.claim(job, sent_at).stored, JobStatus.SENT, sent_at, MessageId="m")
    query = {"from": f"{DAY0:%Y-%m-%d}", "to": f"{DAY0:%Y-%m-%d}"}
    response = call("get_sms_report", request(sender.endpoint.id, query, entra.admin_token()))
    [item] = json.loads(response.get_body())["items"]
    assert (item["jobId"], item["type"], item["status"], item["from"]) == (
        job.job_id,
        "cancelled",
        "sent",
        "+18005550100",
    )
