"""The project's own HL7 samples (`tests/hl7/`): Epic-shaped SIU messages written for this project, and what
the connector must read from each.

Three feeds of one fictional health system, each telling one appointment's story S12 book, S13 reschedule,
S14 modify, S15 cancel, S16 discontinue, S17 delete, S26 no-show:

* `epic_v23_*`: HL7 2.3, Boston; times without an offset (read in the endpoint's zone), the start in SCH-11,
  legacy formatted numbers in PID-13/14 (`(617)555-0143^ORN^CP`), a note full of escapes (`\\T\\ \\F\\ \\S\\
  \\.br\\`).
* `epic_v251_*`: HL7 2.5.1, Seattle; UTF-8 name (MSH-18), TQ1 with offsets beside SCH-11, structured XTN
  with use and equipment codes in PID-13 (home landline, home mobile, email) and PID-14 (work mobile).
* `epic_v28_*`: HL7 2.8, Chicago; PID-13/14 empty and the numbers in PID-40 (email, an expired mobile, a
  landline, a mobile), TQ1 only, a CJK name with a Latin repetition.
* `epic_v251_batch_s12.hl7`: an FHS/BHS batch of three bookings, one of which has only a work landline.

Every name is fictional and every number a 555-01xx number. All visits lie in 2025, so they are over:
`shifted` moves a message's times to make a visit lie ahead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from shared.domain.siu import EventKind, PhoneIssue

SAMPLES = Path(__file__).resolve().parent / "hl7"
BOSTON = ZoneInfo("America/New_York")
SEATTLE = ZoneInfo("America/Los_Angeles")
CHICAGO = ZoneInfo("America/Chicago")
EVENTS = ("S12", "S13", "S14", "S15", "S16", "S17", "S26")
KINDS = dict(
    zip(
        EVENTS,
        (
            EventKind.BOOKED,
            EventKind.RESCHEDULED,
            EventKind.MODIFIED,
            EventKind.CANCELLED,
            EventKind.DISCONTINUED,
            EventKind.DELETED,
            EventKind.NO_SHOW,
        ),
        strict=True,
    )
)
STATUSES = dict(
    zip(EVENTS, ("Booked", "Booked", "Booked", "Cancelled", "Discontinued", "Deleted", "Noshow"), strict=True)
)


@dataclass(frozen=True)
class Expected:
    """What parsing one sample must give (the zone is the endpoint's, for times without an offset)."""

    zone: ZoneInfo
    version: str
    event: str
    kind: EventKind
    control_id: str
    appointment_id: str
    start: str
    minutes: int
    phone: str | PhoneIssue
    status: str


@dataclass(frozen=True)
class _Feed:
    prefix: str
    version: str
    zone: ZoneInfo
    appointment_id: str
    phone: str
    booked: tuple[str, int]
    moved: tuple[str, int]
    modified: tuple[str, int]


FEEDS = (
    _Feed("R23", "2.3", BOSTON, "400012301", "+16175550143",
          ("2025-03-18T09:30:00-04:00", 30), ("2025-03-20T14:00:00-04:00", 30), ("2025-03-20T14:00:00-04:00", 45)),
    _Feed("S251", "2.5.1", SEATTLE, "400067802", "+12065550162",
          ("2025-06-12T14:30:00-07:00", 30), ("2025-06-13T09:15:00-07:00", 30), ("2025-06-13T09:15:00-07:00", 45)),
    _Feed("C28", "2.8", CHICAGO, "400099903", "+13125550182",
          ("2025-11-04T11:00:00-06:00", 30), ("2025-11-05T16:00:00-06:00", 30), ("2025-11-05T16:00:00-06:00", 60)),
)  # fmt: skip


def _expected() -> dict[str, Expected]:
    expected = {}
    for feed in FEEDS:
        for number, event in enumerate(EVENTS, start=1):
            start, minutes = feed.booked if event == "S12" else feed.moved if event == "S13" else feed.modified
            name = f"epic_v{feed.version.replace('.', '')}_{event.lower()}.hl7"
            expected[name] = Expected(
                zone=feed.zone,
                version=feed.version,
                event=event,
                kind=KINDS[event],
                control_id=f"{feed.prefix}{event}{number:03d}",
                appointment_id=feed.appointment_id,
                start=start,
                minutes=minutes,
                phone=feed.phone,
                status=STATUSES[event],
            )
    return expected


EXPECTED = _expected()
BATCH = "epic_v251_batch_s12.hl7"
BATCH_EXPECTED = [
    Expected(SEATTLE, "2.5.1", "S12", EventKind.BOOKED, f"B251S1200{n}", f"40006781{n}", start, 30, phone, "Booked")
    for n, start, phone in (
        (1, "2025-06-20T09:00:00-07:00", "+12065550171"),
        (2, "2025-06-20T10:00:00-07:00", "+12065550172"),
        (3, "2025-06-20T11:00:00-07:00", PhoneIssue.NO_PHONE),  # a work landline only: not for a visit's SMS
    )
]


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def sample_files() -> list[Path]:
    return sorted(SAMPLES.glob("*.hl7"))


def batch_messages(body: bytes) -> list[bytes]:
    """The messages of a batch file, envelope (FHS/BHS/BTS/FTS) dropped, each as it would be posted alone."""
    segments = [s for s in body.decode("utf-8").split("\r") if s and s[:3] not in ("FHS", "BHS", "BTS", "FTS")]
    messages: list[list[str]] = []
    for segment in segments:
        if segment.startswith("MSH"):
            messages.append([])
        messages[-1].append(segment)
    return [("\r".join(message) + "\r").encode("utf-8") for message in messages]


_TIMESTAMP = re.compile(rb"(?<![0-9])(20\d{10})(\d{2})?([+-]\d{4})?(?![0-9])")


def shifted(body: bytes, delta: timedelta) -> bytes:
    """`body` with every timestamp of minute precision or finer moved by `delta` (dates of birth, which have
    no time, stay), each keeping its own offset: a sample's visit made to lie ahead of now."""

    def move(match: re.Match[bytes]) -> bytes:
        digits, seconds, offset = match[1].decode(), (match[2] or b"").decode(), (match[3] or b"").decode()
        moment = datetime.strptime(digits + (seconds or "00"), "%Y%m%d%H%M%S").replace(tzinfo=UTC) + delta
        text = moment.strftime("%Y%m%d%H%M%S" if seconds else "%Y%m%d%H%M")
        return (text + offset).encode()

    return _TIMESTAMP.sub(move, body)
