"""The texts patients receive, and how many SMS segments each costs (GSM-7 or UCS-2).

Every text names the organisation, gives the local date and time, carries the join link where there
is a visit to join, and says how to opt out. Each stays within `MAX_SEGMENTS`: when it would not, the
organisation's display name is first folded to GSM-7 letters (a single non-GSM character turns the
whole text into UCS-2, halving its room) and then shortened — never the link.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum

MAX_SEGMENTS = 2
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
"""Sent as an escape plus a character: two septets each."""
GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67
"""Units in one SMS alone, and in each part of a concatenated one (the rest is the UDH)."""

OPT_OUT = "Reply STOP to opt out."
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class SmsKind(StrEnum):
    SCHEDULED = "scheduled"
    UPDATED = "updated"
    CANCELLED = "cancelled"
    REMINDER = "reminder"


TEMPLATES: dict[SmsKind, str] = {
    SmsKind.SCHEDULED: "{org}your video visit is booked for {when}. Join: {link} " + OPT_OUT,
    SmsKind.UPDATED: "{org}your video visit has changed to {when}. Join: {link} " + OPT_OUT,
    SmsKind.CANCELLED: "{org}your video visit on {when} is cancelled. " + OPT_OUT,
    SmsKind.REMINDER: "{org}reminder: your video visit is on {when}. Join: {link} " + OPT_OUT,
}


@dataclass(frozen=True)
class SegmentCount:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


@dataclass(frozen=True)
class SmsText:
    text: str
    count: SegmentCount


def count_segments(text: str) -> SegmentCount:
    """How `text` is encoded and how many SMS segments it takes.

    GSM-7 when every character is in the GSM 03.38 basic or extension table (extension characters
    cost two septets), else UCS-2 (characters beyond the BMP cost two units). One segment holds
    160 septets / 70 units; a longer text is split into parts of 153 / 67, and an escape pair or a
    surrogate pair is never split across two parts.
    """
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text):
        encoding, single, part = "GSM-7", GSM7_SINGLE, GSM7_PART
        sizes = [2 if c in GSM7_EXTENSION else 1 for c in text]
    else:
        encoding, single, part = "UCS-2", UCS2_SINGLE, UCS2_PART
        sizes = [2 if ord(c) > 0xFFFF else 1 for c in text]
    units = sum(sizes)
    if units <= single:
        return SegmentCount(encoding, units, 1)
    segments, used = 1, 0
    for size in sizes:
        if used + size > part:
            segments, used = segments + 1, 0
        used += size
    return SegmentCount(encoding, units, segments)


def join_url(public_base_url: str, token: str) -> str:
    """The patient's link: `{PUBLIC_BASE_URL}/api/join#{token}` (the token is unguessable; no ids in it).

    The token is the fragment, which a browser never sends: no request log or telemetry of any hop records
    it (the join page reads it and posts it, see `shared.triggers.join`).
    """
    return f"{public_base_url.rstrip('/')}/api/join#{token}"


def render_sms(
    kind: SmsKind, *, organisation: str, start: datetime, local_tz: tzinfo, link: str | None = None
) -> SmsText:
    """The text of one SMS of `kind` about a visit at `start`, shown in `local_tz`, within MAX_SEGMENTS.

    `link` is required for every kind but CANCELLED. Raises ValueError when the link is missing, or
    so long that the text cannot fit even without the organisation's name.
    """
    if kind is not SmsKind.CANCELLED and not link:
        raise ValueError(f"a {kind} SMS needs the join link")
    when = format_when(start, local_tz)
    name = " ".join(organisation.split())  # no newlines or runs of blanks from a display name

    def compose(org: str) -> SmsText:
        text = TEMPLATES[kind].format(org=f"{org}: " if org else "", when=when, link=link or "")
        text = text[0].upper() + text[1:]
        return SmsText(text, count_segments(text))

    sms = compose(name)
    if sms.count.segments <= MAX_SEGMENTS:
        return sms
    name = _gsm7_fold(name)
    while (sms := compose(name)).count.segments > MAX_SEGMENTS:
        if not name:
            raise ValueError(f"a {kind} SMS cannot fit {MAX_SEGMENTS} segments: the join link is too long")
        name = name[:-1].rstrip()
    return sms


def format_when(start: datetime, local_tz: tzinfo) -> str:
    """`Wed 6 Nov 2024, 12:00 GMT`: English names on purpose, so the text never depends on the host's locale."""
    local = start.astimezone(local_tz)
    zone = local.tzname() or local.strftime("%z")
    return f"{WEEKDAYS[local.weekday()]} {local.day} {MONTHS[local.month - 1]} {local.year}, {local:%H:%M} {zone}"


def _gsm7_fold(name: str) -> str:
    """`name` with accents dropped (é stays: it is GSM-7) and other non-GSM characters removed."""
    folded = []
    for character in name:
        if character in GSM7_BASIC:
            folded.append(character)
            continue
        base = unicodedata.normalize("NFKD", character)
        folded.extend(c for c in base if c in GSM7_BASIC and not unicodedata.combining(c))
    return " ".join("".join(folded).split())
