"""How many SMS segments a text costs (GSM-7 or UCS-2), and the patient's join link.

The texts themselves (built-in and edited, per language) are `shared.domain.sms_templates`; this module is
what every text is measured with before it is sent.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
"""Sent as an escape plus a character: two septets each."""
GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67
"""Units in one SMS alone, and in each part of a concatenated one (the rest is the UDH)."""


class SmsKind(StrEnum):
    SCHEDULED = "scheduled"
    UPDATED = "updated"
    CANCELLED = "cancelled"
    REMINDER = "reminder"
    READY = "clinician_ready"


@dataclass(frozen=True)
class SegmentCount:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


@dataclass(frozen=True)
class SmsText:
    text: str
    count: SegmentCount
    language: str = "en"


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


def gsm7_fold(name: str) -> str:
    """`name` with accents dropped (é stays: it is GSM-7) and other non-GSM characters removed."""
    folded = []
    for character in name:
        if character in GSM7_BASIC:
            folded.append(character)
            continue
        base = unicodedata.normalize("NFKD", character)
        folded.extend(c for c in base if c in GSM7_BASIC and not unicodedata.combining(c))
    return " ".join("".join(folded).split())
