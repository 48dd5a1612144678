"""SIU scheduling messages -> `AppointmentEvent`: what happened to which appointment, when it starts, whom to text.

Field choices follow HL7 v2.3-2.8 chapter 10 and what real feeds send (see the sample and corpus tests):

* appointment id: SCH-2 (filler, the scheduling system's own id) first component, else SCH-1 (placer);
* start: TQ1-7 (v2.5+), else SCH-11.4 (the TQ start of v2.3/2.4, still sent by many feeds), else the
  earliest resource start AIS-4 / AIG-8 / AIL-6 / AIP-6;
* duration: the end of the same source (TQ1-8, SCH-11.5), else SCH-9/SCH-10, else SCH-11.3, else the
  resource duration (AIS-7/8, AIG-11/12, AIL-9/10, AIP-9/10);
* phone: the repetitions of PID-40 (v2.7+, where PID-13/14 are deprecated), then PID-13, then PID-14, ranked
  by HL7 table 0201 (use) and 0202 (equipment) — see `_rank` — and, within a rank, by XTN-18 preference
  order; a number whose XTN-14 expiration date is before the message is skipped. Each is read from
  XTN-5/6/7, XTN-12 and the legacy formatted XTN-1, in that order, and normalised to E.164;
* language: PID-15 (primary language, HL7 table 0296 / ISO 639; see `shared.domain.languages`) — a value that
  is no known code is `language_unknown`, and the endpoint's default language is used;
* department: the first AIL-3 (location resource, PL): component 1 is Epic's department id (what a launch's
  `departmentId` names), component 4 its facility/department name (for the `{department}` placeholder).

Non-SIU messages and SIU events we do not act on are returned with kind IGNORED and a reason: the
caller logs and drops them. Anything unusable raises Hl7MessageError naming the field, never its value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from enum import StrEnum

import hl7

from shared.domain.appointment import MAX_APPOINTMENT_KEY_LENGTH, appointment_key
from shared.domain.hl7_message import (
    Hl7ErrorCode,
    Hl7MessageError,
    MessageHeader,
    parse_message,
    parse_time,
    repetitions,
    segments_named,
    value,
)
from shared.domain.languages import language_of
from shared.domain.phone import to_e164


class EventKind(StrEnum):
    BOOKED = "booked"
    RESCHEDULED = "rescheduled"
    MODIFIED = "modified"
    CANCELLED = "cancelled"
    DISCONTINUED = "discontinued"
    DELETED = "deleted"
    NO_SHOW = "no_show"
    IGNORED = "ignored"


EVENT_KINDS: dict[str, EventKind] = {
    "S12": EventKind.BOOKED,
    "S13": EventKind.RESCHEDULED,
    "S14": EventKind.MODIFIED,
    "S15": EventKind.CANCELLED,
    "S16": EventKind.DISCONTINUED,
    "S17": EventKind.DELETED,
    "S26": EventKind.NO_SHOW,
}


class PhoneIssue(StrEnum):
    """Why an event carries no phone number (the number itself is never recorded)."""

    NO_PHONE = "no_phone"
    INVALID_PHONE = "invalid_phone"


@dataclass(frozen=True)
class AppointmentEvent:
    """One SIU message, read. For kind IGNORED only `header`, `message_time` and `ignored_reason` are set;
    for every other kind `appointment_id` and `start` are set too."""

    header: MessageHeader
    kind: EventKind
    message_time: datetime
    appointment_id: str | None = None
    placer_id: str | None = None
    filler_id: str | None = None
    start: datetime | None = None
    duration_minutes: int | None = None
    status: str | None = None
    phone: str | None = None
    phone_issue: PhoneIssue | None = None
    ignored_reason: str | None = None
    language: str | None = None
    language_unknown: bool = False
    """PID-15 had a value that is no language code we know (the value itself is never kept)."""
    department_id: str | None = None
    department_name: str | None = None

    @property
    def event(self) -> str:
        return self.header.event

    @property
    def control_id(self) -> str:
        return self.header.control_id


def parse_siu(body: bytes | str, *, local_tz: tzinfo, phone_region: str) -> AppointmentEvent:
    """Read one SIU message (ER7; `\\r`, `\\n` or `\\r\\n` segments; MLLP frame allowed).

    `local_tz` is the endpoint's zone for times without an offset; `phone_region` the region of
    numbers without a country code. Raises Hl7MessageError when the body is not HL7 v2, MSH-7 is
    unusable, or an SIU event we act on lacks SCH, a usable appointment id or a start time.
    """
    event, message = _read(body, local_tz)
    if event.kind is EventKind.IGNORED:
        return event
    phone, issue = _phone(message, phone_region, event.message_time)
    language, unknown = _language(message)
    return replace(event, phone=phone, phone_issue=issue, language=language, language_unknown=unknown)


def check_siu(body: bytes | str, *, local_tz: tzinfo) -> AppointmentEvent:
    """What the ingress checks before it acknowledges: everything `parse_siu` would refuse (so a message
    answered `AA` can always be applied), without reading the phone number. Raises Hl7MessageError."""
    return _read(body, local_tz)[0]


def _read(body: bytes | str, local_tz: tzinfo) -> tuple[AppointmentEvent, hl7.Message]:
    header, message = parse_message(body)
    message_time = parse_time(header.message_time, local_tz, minimum="day")
    if message_time is None:
        raise Hl7MessageError(
            "MSH-7 message time is missing or malformed", header=header, error_code=Hl7ErrorCode.DATA_TYPE_ERROR
        )
    if header.message_type != "SIU":
        reason = f"not a scheduling message ({header.message_type})"
        return AppointmentEvent(header, EventKind.IGNORED, message_time, ignored_reason=reason), message
    kind = EVENT_KINDS.get(header.event, EventKind.IGNORED)
    if kind is EventKind.IGNORED:
        reason = f"SIU event {header.event or '(none)'} is not acted on"
        return AppointmentEvent(header, kind, message_time, ignored_reason=reason), message
    schedule = _only(message, "SCH", header)
    placer_id, filler_id = value(schedule, 1) or None, value(schedule, 2) or None
    appointment_id = filler_id or placer_id
    if appointment_id is None:
        raise Hl7MessageError("no appointment id in SCH-2 or SCH-1", header=header)
    if len(appointment_key(appointment_id)) > MAX_APPOINTMENT_KEY_LENGTH:
        raise Hl7MessageError(
            f"the appointment id in SCH-2/SCH-1 is too long (at most {MAX_APPOINTMENT_KEY_LENGTH} characters, "
            "non-ASCII and reserved characters counting three per byte)",
            header=header,
            error_code=Hl7ErrorCode.DATA_TYPE_ERROR,
        )
    start, duration = _timing(message, schedule, local_tz, header)
    event = AppointmentEvent(
        header=header,
        kind=kind,
        message_time=message_time,
        appointment_id=appointment_id,
        placer_id=placer_id,
        filler_id=filler_id,
        start=start,
        duration_minutes=duration,
        status=_status(message, schedule),
        **_department(message),
    )
    return event, message


def _language(message: hl7.Message) -> tuple[str | None, bool]:
    """The patient's language (ISO 639-1) from PID-15, and whether PID-15 held something else."""
    patients = segments_named(message, "PID")
    if not patients:
        return None, False
    identifier, alternate = value(patients[0], 15, 1, 1), value(patients[0], 15, 1, 4)
    language = language_of(identifier, alternate)
    return language, language is None and bool(identifier or alternate)


def _department(message: hl7.Message) -> dict[str, str | None]:
    for location in segments_named(message, "AIL"):
        if department_id := value(location, 3, 1, 1):
            return {"department_id": department_id, "department_name": value(location, 3, 1, 4) or None}
    return {}


def _only(message: hl7.Message, name: str, header: MessageHeader) -> hl7.Segment:
    found = segments_named(message, name)
    if not found:
        raise Hl7MessageError(f"{name} segment missing", header=header, error_code=Hl7ErrorCode.SEGMENT_SEQUENCE_ERROR)
    return found[0]


# (segment, start field, duration field, duration units field) of each resource segment.
RESOURCE_TIMES: tuple[tuple[str, int, int, int], ...] = (
    ("AIS", 4, 7, 8),
    ("AIG", 8, 11, 12),
    ("AIL", 6, 9, 10),
    ("AIP", 6, 9, 10),
)


def _timing(
    message: hl7.Message, schedule: hl7.Segment, local_tz: tzinfo, header: MessageHeader
) -> tuple[datetime, int | None]:
    """Start and duration (minutes), by the precedence in the module docstring."""
    sch_duration = _minutes(value(schedule, 9), value(schedule, 10))
    tq_duration = _minutes(value(schedule, 11, 1, 3), "")
    for timing in segments_named(message, "TQ1"):
        start = parse_time(value(timing, 7), local_tz)
        if start is not None:
            end = parse_time(value(timing, 8), local_tz)
            span = _span(start, end) or _minutes(value(timing, 13, 1, 1), value(timing, 13, 1, 2))
            return start, span or sch_duration or tq_duration
    start = parse_time(value(schedule, 11, 1, 4), local_tz)
    if start is not None:
        end = parse_time(value(schedule, 11, 1, 5), local_tz)
        return start, _span(start, end) or sch_duration or tq_duration
    resources = [
        (start, _minutes(value(segment, duration_field), value(segment, units_field)))
        for name, start_field, duration_field, units_field in RESOURCE_TIMES
        for segment in segments_named(message, name)
        if (start := parse_time(value(segment, start_field), local_tz)) is not None
    ]
    if not resources:
        raise Hl7MessageError(
            "no start time in TQ1-7, SCH-11.4 or AIS-4/AIG-8/AIL-6/AIP-6",
            header=header,
            error_code=Hl7ErrorCode.REQUIRED_FIELD_MISSING,
        )
    start, resource_duration = min(resources, key=lambda item: item[0])
    return start, sch_duration or tq_duration or resource_duration


def _span(start: datetime, end: datetime | None) -> int | None:
    if end is None or end <= start:
        return None
    return math.ceil((end - start).total_seconds() / 60)


MINUTES_PER_UNIT: dict[str, float] = {
    **dict.fromkeys(("", "m", "min", "mins", "minute", "minutes"), 1),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1 / 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 60),
    **dict.fromkeys(("d", "day", "days"), 24 * 60),
}


def _minutes(amount: str, units: str) -> int | None:
    """A duration in whole minutes from an amount and its units (CE/CWE first component; none = minutes).

    Also reads TQ-3 style `M30` / `H1`. Unknown units give None rather than a guess.
    """
    match = re.fullmatch(r"([SMHD])?(\d+(?:\.\d+)?)", amount.strip().upper())
    if not match:
        return None
    factor = MINUTES_PER_UNIT.get((match[1] or units).strip().lower())
    if factor is None:
        return None
    minutes = math.ceil(float(match[2]) * factor)
    return minutes or None


def _status(message: hl7.Message, schedule: hl7.Segment) -> str | None:
    """SCH-25 filler status, else the first resource's filler status (AIS-10, AIG-14, AIL-12, AIP-12)."""
    if status := value(schedule, 25):
        return status
    for name, field in (("AIS", 10), ("AIG", 14), ("AIL", 12), ("AIP", 12)):
        for segment in segments_named(message, name):
            if status := value(segment, field):
                return status
    return None


# HL7 table 0202 (equipment type), https://www.hl7.org/fhir/R4/v2/0202/index.html, and table 0201 (use),
# https://www.hl7.org/fhir/R4/v2/0201/index.html. `MOBILE`/`CELL` are what some feeds (e.g. UK TIEs) put
# in XTN-2 or XTN-3 instead of `CP`.
CELLULAR = frozenset({"CP", "MOBILE", "CELL", "CELLULAR"})
NOT_TEXTABLE_EQUIPMENT = frozenset({"INTERNET", "X.400", "FX", "BP", "MD", "TDD", "TTY"})
"""Email and X.400 addresses, fax, beeper, modem and text telephones for the deaf: no SMS reaches them."""
NOT_THE_PATIENTS_USE = frozenset({"NET", "EMR", "ASN", "BPN"})
"""An email address, an emergency contact's number, an answering service, a beeper: not the patient's phone."""
HOME_USES = ("PRN", "ORN", "VHN", "PRS")
"""Primary residence, other residence, vacation home, personal (v2.7+): in this order after any mobile."""
UNLABELLED = len(HOME_USES) + 1
NO_PREFERENCE = 1_000_000
"""The XTN-18 preference order of a number that states none: after every number that does."""


def _phone(message: hl7.Message, region: str, sent: datetime) -> tuple[str | None, PhoneIssue | None]:
    """The best textable number of the patient, or why there is none."""
    ranked: list[tuple[int, int, int, list[str]]] = []
    patients = segments_named(message, "PID")
    if patients:
        for order, (field, xtn) in enumerate(_telecoms(patients[0])):
            rank = _rank(field, xtn[1].upper(), xtn[2].upper())
            expires = parse_time(xtn[13], sent.tzinfo or UTC, minimum="day")
            if rank is None or (expires is not None and expires < sent):
                continue
            preference = int(xtn[17]) if re.fullmatch(r"[0-9]{1,6}", xtn[17]) else NO_PREFERENCE
            ranked.append((rank, preference, order, _spellings(xtn)))
    if not any(spellings for *_, spellings in ranked):
        return None, PhoneIssue.NO_PHONE
    for *_, spellings in sorted(ranked, key=lambda item: item[:3]):
        for spelling in spellings:
            if number := to_e164(spelling, region):
                return number, None
    return None, PhoneIssue.INVALID_PHONE


def _rank(field: int, use: str, equipment: str) -> int | None:
    """0 for a mobile of any of the patient's own uses (a work mobile too), then the home uses in HOME_USES
    order, then a number with neither code (v2.3 feeds often send just the number); None for what is not
    the patient's textable phone — including a work landline (WPN), which a colleague may answer."""
    if use in NOT_THE_PATIENTS_USE or equipment in NOT_TEXTABLE_EQUIPMENT:
        return None
    if equipment in CELLULAR or use in CELLULAR:
        return 0
    if use in HOME_USES:
        return HOME_USES.index(use) + 1
    if not use and not equipment and field != 14:
        return UNLABELLED
    return None


def _telecoms(patient: hl7.Segment) -> Iterator[tuple[int, list[str]]]:
    """(field, XTN components 1-18) of every PID-40, then PID-13, then PID-14 repetition."""
    for field in (40, 13, 14):
        for repetition in range(1, repetitions(patient, field) + 1):
            yield field, [value(patient, field, repetition, component) for component in range(1, 19)]


def _spellings(xtn: list[str]) -> list[str]:
    """The ways one XTN writes its number: structured (5 country, 6 area, 7 local), 12 unformatted, 1 legacy."""
    spellings = []
    country, area, local = (re.sub(r"\D", "", part) for part in xtn[4:7])
    if local:
        spellings.append(f"+{country}{area}{local}" if country else f"{area}{local}")
    if xtn[11]:
        spellings.append(xtn[11])
    # Legacy XTN-1: [NNN][(999)]999-9999[X99999][B99999][C any text]; X is an extension phonenumbers reads.
    legacy = re.split(r"[BC]", xtn[0], maxsplit=1)[0].strip()
    if re.search(r"\d", legacy):
        spellings.append(legacy)
    return spellings
