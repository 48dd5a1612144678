"""Phone numbers: normalise what a message says to E.164, and mask a number wherever it is shown."""

from __future__ import annotations

import re


def to_e164(text: str, default_region: str) -> str | None:
    """`text` as an E.164 number (`+14155550100`), or None when it is not a valid number.

    `default_region` (ISO 3166 alpha-2, e.g. "US") applies to numbers written without a country
    code. Extensions and formatting are ignored. phonenumbers is imported here: it is a fifth of a
    cold start and only the HL7 path needs it.
    """
    import phonenumbers

    digits = re.sub(r"[^\d+]", "", text)
    if len(digits.lstrip("+")) < 5:
        return None
    try:
        number = phonenumbers.parse(text, default_region.upper())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(e164: str) -> str:
    """`+14155550123` -> `+*********23`: enough to tell numbers apart in a record, not to dial one."""
    if len(e164) <= 3:
        return "*" * len(e164)
    return e164[0] + "*" * (len(e164) - 3) + e164[-2:]
