"""The admin reports: SMS sent per endpoint and date range, read page by page from day-partitioned indexes.

Each report reads only the partitions `f"{endpoint id}|{YYYYMMDD}"` of its range, from the endpoint's
geography; a page holds at most `limit` rows and names where the next one starts. Rows carry no patient
number or name: the SMS report index never stored one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from shared.adapters.sms_jobs import SMS_REPORT, report_partition
from shared.adapters.storage import Storage, Stored, Table
from shared.domain.access import Caller, require_admin
from shared.domain.config import Endpoint
from shared.domain.reports import (
    Cursor,
    ReportRange,
    decode_cursor,
    encode_cursor,
    parse_page_size,
    parse_report_range,
)

SMS_COLUMNS = ("jobId", "sentAt", "from", "type", "status", "delivery", "reason")


class EndpointDirectory(Protocol):
    def get_endpoint(self, endpoint_id: str) -> Endpoint: ...


@dataclass(frozen=True)
class ReportPage:
    columns: tuple[str, ...]
    items: list[dict[str, Any]]
    continuation: str | None


def sms_report(
    store: EndpointDirectory, storage: Storage, caller: Caller, endpoint_id: str, query: Mapping[str, str]
) -> ReportPage:
    """One page of the endpoint's SMS report. Query: from, to (YYYY-MM-DD, required, at most 31 days),
    limit, continuation. Raises ForbiddenError (not an admin), NotFoundError (no such endpoint),
    InvalidRequestError (bad range, limit or token), UpstreamError."""
    require_admin(caller)
    range_ = parse_report_range(query.get("from"), query.get("to"))
    limit = parse_page_size(query.get("limit"))
    cursor = decode_cursor(query.get("continuation"), range_)
    endpoint = store.get_endpoint(endpoint_id)
    table = storage.for_geo(endpoint.geo).table(SMS_REPORT)
    rows, continuation = read_days(table, lambda day: report_partition(endpoint.id, day), range_, cursor, limit)
    return ReportPage(SMS_COLUMNS, [_sms_item(row.entity) for row in rows], continuation)


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
    sent_at: datetime = row["SentAt"]
    return {
        "jobId": row["RowKey"],
        "sentAt": sent_at.astimezone(UTC).isoformat(),
        "from": row.get("From", ""),
        "type": row.get("Kind", ""),
        "status": row.get("Status", ""),
        "delivery": row.get("Delivery") or None,
        "reason": row.get("Reason") or None,
    }
