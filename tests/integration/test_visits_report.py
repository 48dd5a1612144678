"""The visits report over the visit log's day partitions: exactly the range's visits, page by page, JSON
and CSV, admins only; a launch recorded by the visit log shows up in it."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from localworld.entra import EntraStandIn
from shared import bootstrap
from shared.adapters.metering import StorageMeter
from shared.adapters.storage import Storage
from shared.adapters.visit_log import VISITS_TABLE, VisitLog, visit_partition
from shared.domain.appointment import appointment_key
from shared.services.reports import VISITS, endpoint_report
from shared.settings import get_settings
from tests.appcalls import call
from tests.hl7_support import seed_sender
from tests.report_support import app_settings, report_request, upsert_in_batches

GEO = "EU"
DAY0 = datetime(2026, 5, 4, tzinfo=UTC)
IN_RANGE_DAYS = 4
PER_DAY = 750
COLUMNS = [
    "visitId",
    "scheduledStart",
    "meetingCreatedAt",
    "firstProviderLaunchAt",
    "firstPatientJoinAt",
    "lobbyWaitSeconds",
    "durationSeconds",
    "providerLaunches",
    "patientLaunches",
    "department",
]


def seed_visits(endpoint_id: str, first_day: datetime, days: int, per_day: int) -> None:
    """Visit log rows as the launch and call events leave them; every fifth visit never started."""
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        rows = []
        for number in range(per_day):
            visit_id = f"CSN{offset:02d}{number:05d}"
            start = day + timedelta(minutes=number)
            row = {
                "PartitionKey": visit_partition(endpoint_id, start),
                "RowKey": appointment_key(visit_id),
                "VisitId": visit_id,
                "ScheduledStart": start,
                "ProviderLaunches": 0,
                "PatientLaunches": 0,
            }
            if number % 5:
                row |= {
                    "Department": f"DEP{number % 7}",
                    "MeetingCreatedAt": start - timedelta(minutes=5),
                    "FirstProviderLaunchAt": start - timedelta(minutes=5),
                    "FirstPatientJoinAt": start - timedelta(minutes=3),
                    "ProviderLaunches": 1 + number % 2,
                    "PatientLaunches": 1,
                    "LobbyWaitSeconds": 120,
                    "EndedAt": start + timedelta(minutes=20),
                    "DurationSeconds": 1200,
                }
            rows.append(row)
        upsert_in_batches(GEO, VISITS_TABLE, rows)


@pytest.fixture(scope="module")
def seeded(storage_env: dict[str, str]) -> dict[str, str]:
    """One endpoint with 3,000 visits over four days, plus 1,100 the report must not read: the days around
    the range, and another endpoint on the same days."""
    with app_settings(storage_env):
        sender = seed_sender(GEO)
        other = seed_sender(GEO)
        seed_visits(sender.endpoint.id, DAY0, IN_RANGE_DAYS, PER_DAY)
        seed_visits(sender.endpoint.id, DAY0 - timedelta(days=1), 1, 300)
        seed_visits(sender.endpoint.id, DAY0 + timedelta(days=IN_RANGE_DAYS), 1, 300)
        seed_visits(other.endpoint.id, DAY0, 2, 250)
    return {"endpoint": sender.endpoint.id}


RANGE = {"from": f"{DAY0:%Y-%m-%d}", "to": f"{DAY0 + timedelta(days=IN_RANGE_DAYS - 1):%Y-%m-%d}"}


def request(endpoint_id: str, params: dict[str, str], token: str | None, accept: str = "application/json"):
    return report_request("visits", endpoint_id, params, token, accept)


def test_paging_reads_exactly_the_visits_of_the_range(seeded, config_env, entra: EntraStandIn) -> None:
    meter = StorageMeter()
    storage = Storage(get_settings(), meter=meter)
    caller = bootstrap.get_token_validator().validate(f"Bearer {entra.admin_token()}")
    storage.for_geo(GEO).table(VISITS_TABLE)  # table creation is not part of the count
    meter.reset()
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        query = {**RANGE, "limit": "1000", **({"continuation": token} if token else {})}
        page = endpoint_report(VISITS, bootstrap.get_config_store(), storage, caller, seeded["endpoint"], query)
        pages += 1
        assert len(page.items) <= 1000
        seen.extend(item["visitId"] for item in page.items)
        token = page.continuation
        if token is None:
            break
    assert len(seen) == len(set(seen)) == IN_RANGE_DAYS * PER_DAY
    assert all(visit.startswith(("CSN00", "CSN01", "CSN02", "CSN03")) for visit in seen)
    assert pages in (3, 4)
    assert meter.entities_read == IN_RANGE_DAYS * PER_DAY
    print(f"Visits report: {meter.entities_read} entities in {meter.transactions} requests over {pages} pages")


def test_json_rows_carry_the_visit_columns(seeded, config_env, entra: EntraStandIn) -> None:
    response = call("get_visits_report", request(seeded["endpoint"], {**RANGE, "limit": "5"}, entra.admin_token()))
    assert response.status_code == 200
    document = json.loads(response.get_body())
    assert document["continuation"]
    never_started, held = document["items"][0], document["items"][1]
    assert list(held) == COLUMNS
    assert held == {
        "visitId": "CSN0000001",
        "scheduledStart": "2026-05-04T00:01:00+00:00",
        "meetingCreatedAt": "2026-05-03T23:56:00+00:00",
        "firstProviderLaunchAt": "2026-05-03T23:56:00+00:00",
        "firstPatientJoinAt": "2026-05-03T23:58:00+00:00",
        "lobbyWaitSeconds": 120,
        "durationSeconds": 1200,
        "providerLaunches": 2,
        "patientLaunches": 1,
        "department": "DEP1",
    }
    assert never_started["meetingCreatedAt"] is None
    assert never_started["providerLaunches"] == 0


def test_csv_pages_follow_the_continuation_header(seeded, config_env, entra: EntraStandIn) -> None:
    admin = entra.admin_token()
    response = call("get_visits_report", request(seeded["endpoint"], {**RANGE, "limit": "4"}, admin, "text/csv"))
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_body().decode())))
    assert rows[0] == COLUMNS
    assert len(rows) == 5
    following = call(
        "get_visits_report",
        request(
            seeded["endpoint"],
            {**RANGE, "limit": "4", "continuation": response.headers["X-Continuation-Token"]},
            admin,
            "text/csv",
        ),
    )
    assert list(csv.reader(io.StringIO(following.get_body().decode())))[1][0] == "CSN0000004"


@pytest.mark.parametrize(
    "params",
    [{}, {"from": "2026-05-04"}, {"from": "2026-01-01", "to": "2026-05-04"}, {**RANGE, "continuation": "x"}],
)
def test_bad_queries_get_a_clear_400(seeded, config_env, entra: EntraStandIn, params: dict[str, str]) -> None:
    response = call("get_visits_report", request(seeded["endpoint"], params, entra.admin_token()))
    assert response.status_code == 400
    assert json.loads(response.get_body())["code"] == "invalid_request"


def test_only_admins_may_read_the_visits_report(seeded, config_env, entra: EntraStandIn) -> None:
    assert call("get_visits_report", request(seeded["endpoint"], RANGE, None)).status_code == 401
    user = entra.token("someone@hospital.example", roles=())
    assert call("get_visits_report", request(seeded["endpoint"], RANGE, user)).status_code == 403


def test_a_launch_recorded_in_the_visit_log_appears_in_the_report(app_env, config_env, entra) -> None:
    sender = seed_sender(GEO)
    start = DAY0 + timedelta(hours=9)
    log = VisitLog(bootstrap.get_storage())
    for role in ("provider", "patient", "provider"):
        log.record_launch(
            GEO,
            endpoint_id=sender.endpoint.id,
            visit_id="CSN/77",
            scheduled_start=start,
            role=role,
            department="CARDIO",
            at=start - timedelta(minutes=2),
        )
    query = {"from": f"{DAY0:%Y-%m-%d}", "to": f"{DAY0:%Y-%m-%d}"}
    response = call("get_visits_report", request(sender.endpoint.id, query, entra.admin_token()))
    [item] = json.loads(response.get_body())["items"]
    assert (item["visitId"], item["providerLaunches"], item["patientLaunches"], item["department"]) == (
        "CSN/77",
        2,
        1,
        "CARDIO",
    )
