"""Report queries without I/O: the bounded date range, the opaque continuation token, page size, and CSV.

A report reads one partition per endpoint and UTC day of its range, in day order and key order inside a
day; the continuation token says where the next page starts (a day and the last row key returned), so a
page never re-reads what an earlier page returned.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from shared.errors import InvalidRequestError

MAX_REPORT_DAYS = 31
DEFAULT_PAGE_SIZE = 200
MAX_PAGE_SIZE = 1000
DAY_KEY_FORMAT = "%Y%m%d"


@dataclass(frozen=True)
class ReportRange:
    first: date
    last: date

    def day_keys(self) -> list[str]:
        """The UTC days of the range as partition key parts (`YYYYMMDD`), oldest first."""
        count = (self.last - self.first).days + 1
        return [f"{self.first + timedelta(days=offset):{DAY_KEY_FORMAT}}" for offset in range(count)]


def parse_report_range(first: str | None, last: str | None) -> ReportRange:
    """`from` and `to` (YYYY-MM-DD, UTC days, both included). Raises InvalidRequestError saying what is wrong."""
    if not first or not last:
        raise InvalidRequestError("Query parameters from and to (YYYY-MM-DD) are required.")
    try:
        range_ = ReportRange(date.fromisoformat(first), date.fromisoformat(last))
    except ValueError:
        raise InvalidRequestError("Query parameters from and to must be dates written YYYY-MM-DD.") from None
    if range_.last < range_.first:
        raise InvalidRequestError("Query parameter to must not be before from.")
    if (range_.last - range_.first).days + 1 > MAX_REPORT_DAYS:
        raise InvalidRequestError(f"A report covers at most {MAX_REPORT_DAYS} days; ask for a shorter range.")
    return range_


def parse_page_size(text: str | None) -> int:
    """`limit` (1 to MAX_PAGE_SIZE, default DEFAULT_PAGE_SIZE). Raises InvalidRequestError."""
    if not text:
        return DEFAULT_PAGE_SIZE
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_PAGE_SIZE:
        raise InvalidRequestError(f"Query parameter limit must be a whole number from 1 to {MAX_PAGE_SIZE}.")
    return int(text)


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: the day, and the row key after which to continue ("" for the day's start)."""

    day: str
    after: str = ""


def encode_cursor(cursor: Cursor) -> str:
    text = json.dumps({"d": cursor.day, "r": cursor.after}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(token: str | None, range_: ReportRange) -> Cursor:
    """The start of the page `token` names (the range's first day without one). Raises InvalidRequestError
    for a token that is malformed or belongs to another range."""
    days = range_.day_keys()
    if not token:
        return Cursor(days[0])
    try:
        document = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error):
        document = None
    if not isinstance(document, dict) or not isinstance(document.get("r"), str) or document.get("d") not in days:
        raise InvalidRequestError("The continuation token is not one this report issued for this date range.")
    return Cursor(document["d"], document["r"])


def to_csv(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """RFC 4180 CSV with a header row; None is an empty cell. Cells starting like a formula are quoted with a
    leading apostrophe, so a spreadsheet never runs them."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    return buffer.getvalue()


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
