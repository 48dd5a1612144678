"""`parse`: read HL7 v2 files as the connector would and print one JSON object per file (JSON Lines).

Exit status 1 when any file failed (unreadable, not HL7, not SIU, or an SIU message we cannot use).
Phone numbers are masked except their last two digits unless `--show-phone` is given.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.domain.hl7_message import Hl7MessageError
from shared.domain.phone import mask_phone
from shared.domain.siu import AppointmentEvent, parse_siu
from shared.settings import DEFAULT_PHONE_REGION


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("parse", help="parse HL7 v2 files and print JSON Lines", description=__doc__)
    parser.add_argument("files", nargs="+", metavar="FILE", type=Path)
    parser.add_argument("--show-phone", action="store_true", help="print phone numbers in full")
    parser.add_argument("--tz", default="UTC", type=_zone, help="IANA zone for times without an offset (default UTC)")
    parser.add_argument(
        "--region", default=DEFAULT_PHONE_REGION, help=f"default phone region (default {DEFAULT_PHONE_REGION})"
    )
    parser.set_defaults(run=run)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"unknown time zone {name!r}") from exc


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    failed = False
    for path in args.files:
        record = describe(path, local_tz=args.tz, region=args.region.upper(), show_phone=args.show_phone)
        failed = failed or not record["ok"]
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return 1 if failed else 0


def describe(path: Path, *, local_tz: ZoneInfo, region: str, show_phone: bool) -> dict[str, Any]:
    """The JSON object for one file."""
    try:
        body = path.read_bytes()
    except OSError as exc:
        return {"file": str(path), "ok": False, "error": f"cannot read the file: {exc.strerror}"}
    try:
        event = parse_siu(body, local_tz=local_tz, phone_region=region)
    except Hl7MessageError as exc:
        header = exc.header
        return {
            "file": str(path),
            "ok": False,
            "error": exc.message,
            "event": header.event if header else None,
            "control_id": header.control_id if header else None,
        }
    record = _fields(event, show_phone)
    if event.header.message_type != "SIU":
        return {"file": str(path), "ok": False, "error": event.ignored_reason, **record}
    return {"file": str(path), "ok": True, **record}


def _fields(event: AppointmentEvent, show_phone: bool) -> dict[str, Any]:
    phone = event.phone if show_phone or event.phone is None else mask_phone(event.phone)
    return {
        "event": event.event,
        "kind": event.kind.value,
        "control_id": event.control_id,
        "message_time": _iso(event.message_time),
        "appointment_id": event.appointment_id,
        "placer_id": event.placer_id,
        "filler_id": event.filler_id,
        "start": _iso(event.start),
        "duration_minutes": event.duration_minutes,
        "status": event.status,
        "phone": phone,
        "phone_issue": event.phone_issue.value if event.phone_issue else None,
        "ignored_reason": event.ignored_reason,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
