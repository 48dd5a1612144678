"""The patient's language as a scheduling message states it (PID-15), reduced to one ISO 639-1 code.

PID-15 "Primary Language" is a CE/CWE coded from HL7 table 0296, which HL7 leaves to each site and suggests
filling from ISO 639 (https://terminology.hl7.org/CodeSystem-v2-0296.html). Epic's interfaces send the
language category's code there: ISO 639-2 three-letter codes (`SPA^Spanish`, often upper case), ISO 639-1
two-letter codes, or BCP 47 tags with a region (`es-MX`). We read CWE-1 (identifier), then CWE-4 (the
alternate identifier, where sites that send a local code put the ISO one). The text in CWE-2 is never used:
it is free text, and the code is what the site maintains.
"""

from __future__ import annotations

import re

from shared.errors import InvalidRequestError

ISO_639: dict[str, str] = {
    # ISO 639-1 -> ISO 639-2/B and, where it differs, ISO 639-2/T (https://www.loc.gov/standards/iso639-2/php/code_list.php)
    "ar": "ara",
    "bn": "ben",
    "bs": "bos",
    "da": "dan",
    "de": "ger deu",
    "el": "gre ell",
    "en": "eng",
    "es": "spa",
    "fa": "per fas",
    "fi": "fin",
    "fr": "fre fra",
    "he": "heb",
    "hi": "hin",
    "hr": "hrv",
    "ht": "hat",
    "hu": "hun",
    "it": "ita",
    "ja": "jpn",
    "ko": "kor",
    "nl": "dut nld",
    "no": "nor",
    "nb": "nob",
    "pl": "pol",
    "pt": "por",
    "ro": "rum ron",
    "ru": "rus",
    "so": "som",
    "sr": "srp",
    "sv": "swe",
    "tl": "tgl",
    "tr": "tur",
    "uk": "ukr",
    "ur": "urd",
    "vi": "vie",
    "zh": "chi zho",
}
"""Languages a patient may be texted in: the ones with built-in texts and those an admin may add texts for."""

_BY_CODE: dict[str, str] = {code: two for two, threes in ISO_639.items() for code in (two, *threes.split())}
_TAG = re.compile(r"([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{2,8})*")


def language_of(identifier: str, alternate: str = "") -> str | None:
    """The ISO 639-1 code PID-15's CWE-1 (else CWE-4) names; None when neither is a known language code."""
    for candidate in (identifier, alternate):
        match = _TAG.fullmatch(candidate.strip())
        if match and (code := _BY_CODE.get(match[1].lower())):
            return code
    return None


def check_language(value: object, field_name: str = "language") -> str:
    """An ISO 639-1 code we know (as `language_of` reads it); raises InvalidRequestError naming the field."""
    code = language_of(value) if isinstance(value, str) and len(value) <= 16 else None
    if code is None:
        raise InvalidRequestError(f"{field_name} must be an ISO 639 language code such as 'en', 'es', 'da' or 'it'.")
    return code
