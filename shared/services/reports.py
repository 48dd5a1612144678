"""The admin reports: SMS sent and visits held per endpoint and date range, read page by page from
day-partitioned tables.

Each report reads only the partitions `f"{endpoint id}|{YYYYMMDD}"` of its range, from the endpoint's
geography; a page holds at most `limit` rows and names where the next one starts. Rows carry no patient
number or name: neither the SMS report index nor the visit log ever stored one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from shared.adapters.sms_jobs import SMS_REPORT, report_partition
from shared.adapters.storage import Storage, Stored, Table
from shared.adapters.visit_log import VISITS_TABLE, visit_day_partition
from shared.domain.access import Caller, require_report_reader, require_tenant
from shared.domain.config import Endpoint
from shared.domain.reports import (
    Cursor,
    ReportRange,
    decode_cursor,
    encode_cursor,
    parse_page_size,
    parse_report_range,
)


class EndpointDirectory(Protocol):
    def get_endpoint(self, endpoint_id: str) -> Endpoint: ...


@dataclass(frozen=True)
class ReportKind:
    """What one report reads and how a stored row becomes a report row."""

    table: str
    partition_of: Callable[[str, str], str]
    """(endpoint id, day `YYYYMMDD`) -> the PartitionKey of that endpoint's day."""
    columns: tuple[str, ...]
    item_of: Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class ReportPage:
    columns: tuple[str, ...]
    items: list[dict[str, Any]]
    continuation: str | None


def endpoint_report(
    kind: ReportKind,
    store: EndpointDirectory,
    storage: Storage,
    caller: Caller,
    endpoint_id: str,
    query: Mapping[str, str],
) -> ReportPage:
    """One page of the endpoint's `kind` report. Query: from, to (YYYY-MM-DD, required, at most 31 days),
    limit, continuation. Raises ForbiddenError (neither report reader nor admin), NotFoundError (no such
    endpoint in the caller's tenant), InvalidRequestError (bad range, limit or token), UpstreamError."""
    require_report_reader(caller)
    range_ = parse_report_range(query.get("from"), query.get("to"))
    limit = parse_page_size(query.get("limit"))
    cursor = decode_cursor(query.get("continuation"), range_)
    endpoint = store.get_endpoint(endpoint_id)
    require_tenant(caller, endpoint.tenant_id, "endpoint")
    table = storage.for_geo(endpoint.geo).table(kind.table)
    rows, continuation = read_days(table, lambda day: kind.partition_of(endpoint.id, day), range_, cursor, limit)
    return ReportPage(kind.columns, [kind.item_of(row.entity) for row in rows], continuation)


def read_days(
    table: Table, partition_of: Callable[[str], str], range_: ReportRange, cursor: Cursor, limit: int
) -> tuple[list[Stored], str | None]:
    """Up to `limit` rows from the day partitions of `range_`, starting at `cursor`; and the next page's token
    (None when the range is exhausted). Each query is bounded to one partition and to what the page still needs."""
    days = range_.day_keys()
    rows: list[Stored] = []
    after = cursor.after
    for day in days[days.index(cursor.day) :]:
        wanted = limit - len(rows)
        found = table.query_page(
            "PartitionKey eq @pk and RowKey gt @after", {"pk": partition_of(day), "after": after}, wanted
        )
        rows.extend(found)
        if len(found) == wanted:
            return rows, encode_cursor(Cursor(day, found[-1].entity["RowKey"]))
        after = ""
    return rows, None


def _sms_item(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "jobId": row["RowKey"],
        "sentAt": _instant(row["SentAt"]),
        "from": row.get("From", ""),
        "type": row.get("Kind", ""),
        "language": row.get("Language") or None,
        "segments": row.get("Segments"),
        "status": row.get("Status", ""),
        "resent": bool(row.get("Resent")),
        "delivery": row.get("Delivery") or None,
        "reason": row.get("Reason") or None,
    }


def _visit_item(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "visitId": row.get("VisitId", ""),
        "scheduledStart": _instant(row.get("ScheduledStart")),
        "meetingCreatedAt": _instant(row.get("MeetingCreatedAt")),
        "firstProviderLaunchAt": _instant(row.get("FirstProviderLaunchAt")),
        "firstPatientJoinAt": _instant(row.get("FirstPatientJoinAt")),
        "lobbyWaitSeconds": row.get("LobbyWaitSeconds"),
        "durationSeconds": row.get("DurationSeconds"),
        "providerLaunches": int(row.get("ProviderLaunches") or 0),
        "patientLaunches": int(row.get("PatientLaunches") or 0),
        "department": row.get("Department") or None,
    }


def _instant(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


SMS = ReportKind(
    SMS_REPORT,
    report_partition,
    ("jobId", "sentAt", "from", "type", "language", "segments", "status", "resent", "delivery", "reason"),
    _sms_item,
)
VISITS = ReportKind(
    VISITS_TABLE,
    visit_day_partition,
    (
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
    ),
    _visit_item,
)
