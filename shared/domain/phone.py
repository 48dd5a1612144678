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


INTERNATIONAL_NUMBER = re.compile(r"\+[1-9]\d{6,14}")


def international_to_e164(text: str) -> str | None:
    """An international number as a provider writes it (`+15555555555`, `15555555555`, `0015555555555`,
    with or without spaces and punctuation) in E.164, or None when it is not one.

    Only the form changes: no region is assumed and no number plan is checked, so a number we sent to
    comes back as the same string whatever punctuation the provider added.
    """
    compact = re.sub(r"[\s().-]", "", text)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    elif not compact.startswith("+"):
        compact = "+" + compact
    return compact if INTERNATIONAL_NUMBER.fullmatch(compact) else None


def mask_phone(e164: str) -> str:
    """`+14155550123` -> `+*********23`: enough to tell numbers apart in a record, not to dial one."""
    if len(e164) <= 3:
        return "*" * len(e164)
    return e164[0] + "*" * (len(e164) - 3) + e164[-2:]
