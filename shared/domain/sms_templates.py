"""The texts patients receive, in their language: built-in texts, the admin's edited ones, and their rules.

A template is plain text with placeholders from a fixed list (`PLACEHOLDERS`), written `{name}`. Dates and
times are written the way the text's language writes them, in the visit's time zone, by Babel's CLDR data
(imported on the first text, never at cold start). Every text is measured (GSM-7 or UCS-2, segments) before
it is sent; one over the endpoint's segment limit first loses GSM-7-foreign letters of the organisation's
names (one such letter turns the whole text into UCS-2, halving its room), then letters of the names —
never the link.

Built-in texts exist in English, Spanish, Danish and Italian, written for this project. They avoid letters
outside GSM-7 where the language has a natural way round them (the Spanish texts say "videoconsulta" and
use no accented word but the date), and the Spanish date leaves out the weekday, because "mié" and "sáb"
are not GSM-7 and would make every Wednesday's text cost twice as much.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from types import MappingProxyType

from shared.domain.config import DEFAULT_LANGUAGE
from shared.domain.sms_text import SmsKind, SmsText, count_segments, gsm7_fold
from shared.errors import TemplateRuleError

PLACEHOLDERS = MappingProxyType(
    {
        "organisation": "the organisation's name",
        "sender": "the organisation's short display name (what patients know it as)",
        "department": "the department's name from the scheduling message (empty when none)",
        "date": "the visit's date, in the visit's time zone, as the text's language writes it",
        "time": "the visit's start time and time zone",
        "until": "the time until which the link opens the visit (its end plus the grace)",
        "link": "the patient's join link",
    }
)
"""The only placeholders a template may use; none of them carries patient data but the visit time."""

PATIENT_WORDS = frozenset(
    {
        "patient", "first", "last", "given", "family", "surname", "fullname", "mrn", "phone", "mobile", "email",
        "dob", "birth", "birthdate", "birthday", "address", "age", "sex", "gender", "ssn", "diagnosis", "reason",
        "provider", "clinician", "doctor",
    }
)  # fmt: skip
"""Words of a placeholder name that ask for data about the patient or their care (`{patient_name}`,
`{dob}`, `{first-name}`): refused as patient data rather than as merely unknown."""

BUILT_IN_LANGUAGES = ("en", "es", "da", "it")
MAX_TEMPLATE_LENGTH = 480
LINK_KINDS = frozenset({SmsKind.SCHEDULED, SmsKind.UPDATED, SmsKind.REMINDER, SmsKind.READY})
"""Kinds whose text must carry the join link; a cancellation has none to carry."""

_EN_STOP = " Reply STOP to opt out."
_ES_STOP = " Responda STOP para darse de baja."
_DA_STOP = " Svar STOP for at framelde dig."
_IT_STOP = " Risponda STOP per non ricevere altri messaggi."

BUILT_IN: dict[str, dict[SmsKind, str]] = {
    "en": {
        SmsKind.SCHEDULED: "{sender}: your video visit is booked for {date} at {time}. "
        "Join with this link (it works until {until}): {link}" + _EN_STOP,
        SmsKind.UPDATED: "{sender}: your video visit has moved to {date} at {time}. "
        "Join with this link (it works until {until}): {link}" + _EN_STOP,
        SmsKind.CANCELLED: "{sender}: your video visit on {date} at {time} is cancelled. "
        "Please contact us if you need a new time." + _EN_STOP,
        SmsKind.REMINDER: "{sender}: a reminder of your video visit on {date} at {time}. "
        "Join with this link (it works until {until}): {link}" + _EN_STOP,
        SmsKind.READY: "{sender}: your clinician is ready for your video visit now. Join here: {link}" + _EN_STOP,
    },
    "es": {
        SmsKind.SCHEDULED: "{sender}: su videoconsulta es el {date} a las {time}. "
        "Entre con este enlace (sirve hasta las {until}): {link}" + _ES_STOP,
        SmsKind.UPDATED: "{sender}: su videoconsulta ha cambiado al {date} a las {time}. "
        "Entre con este enlace (sirve hasta las {until}): {link}" + _ES_STOP,
        SmsKind.CANCELLED: "{sender}: su videoconsulta del {date} a las {time} ha sido cancelada. "
        "Si necesita una nueva cita, contacte con nosotros." + _ES_STOP,
        SmsKind.REMINDER: "{sender}: le recordamos su videoconsulta del {date} a las {time}. "
        "Entre con este enlace (sirve hasta las {until}): {link}" + _ES_STOP,
        SmsKind.READY: "{sender}: su profesional sanitario ya le espera en la videoconsulta. "
        "Entre ahora: {link}" + _ES_STOP,
    },
    "da": {
        SmsKind.SCHEDULED: "{sender}: din videokonsultation er booket {date} kl. {time}. "
        "Brug dette link (det virker til kl. {until}): {link}" + _DA_STOP,
        SmsKind.UPDATED: "{sender}: din videokonsultation er flyttet til {date} kl. {time}. "
        "Brug dette link (det virker til kl. {until}): {link}" + _DA_STOP,
        SmsKind.CANCELLED: "{sender}: din videokonsultation {date} kl. {time} er aflyst. "
        "Kontakt os, hvis du har brug for en ny tid." + _DA_STOP,
        SmsKind.REMINDER: "{sender}: husk din videokonsultation {date} kl. {time}. "
        "Brug dette link (det virker til kl. {until}): {link}" + _DA_STOP,
        SmsKind.READY: "{sender}: din behandler er klar til videokonsultationen nu. Deltag her: {link}" + _DA_STOP,
    },
    "it": {
        SmsKind.SCHEDULED: "{sender}: la sua visita video è fissata per {date} alle {time}. "
        "Entri con questo link (valido fino alle {until}): {link}" + _IT_STOP,
        SmsKind.UPDATED: "{sender}: la sua visita video è stata spostata al {date} alle {time}. "
        "Entri con questo link (valido fino alle {until}): {link}" + _IT_STOP,
        SmsKind.CANCELLED: "{sender}: la sua visita video del {date} alle {time} è stata annullata. "
        "Ci contatti se le serve un nuovo appuntamento." + _IT_STOP,
        SmsKind.REMINDER: "{sender}: le ricordiamo la visita video del {date} alle {time}. "
        "Entri con questo link (valido fino alle {until}): {link}" + _IT_STOP,
        SmsKind.READY: "{sender}: il suo medico è pronto per la visita video. Entri ora: {link}" + _IT_STOP,
    },
}

DATE_SKELETONS = {"es": "yMMMd"}
"""CLDR date skeletons by language (default `yMMMEd`: weekday, day, month, year in the language's order)."""

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_PHONE_LIKE = re.compile(r"\+?\d[\d ().-]{5,}\d")
_EMAIL_LIKE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class CustomText:
    """An admin's text for one kind in one language, for one department or (department None) all of them."""

    kind: SmsKind
    language: str
    department: str | None
    template: str


@dataclass(frozen=True)
class VisitFacts:
    """What a text may say about a visit: names of the organisation and department, times, the link."""

    organisation: str
    sender: str
    start: datetime
    until: datetime
    local_tz: tzinfo
    department: str = ""
    link: str | None = None


def choose_template(
    kind: SmsKind, language: str | None, default_language: str, department: str | None, texts: tuple[CustomText, ...]
) -> tuple[str, str]:
    """(template, language) for a text: the patient's language when the endpoint has a text in it (its own or
    built-in), else the endpoint's default language; within a language the department's text, then the
    endpoint's, then the built-in one."""
    for candidate in dict.fromkeys(filter(None, (language, default_language, DEFAULT_LANGUAGE))):
        edited = {(text.department, text.kind): text.template for text in texts if text.language == candidate}
        for scope in dict.fromkeys((department, None)):
            if (scope, kind) in edited:
                return edited[(scope, kind)], candidate
        if candidate in BUILT_IN:
            return BUILT_IN[candidate][kind], candidate
    raise AssertionError("the default language always has built-in texts")


def render_text(template: str, language: str, facts: VisitFacts, *, region: str, segment_limit: int) -> SmsText:
    """`template` filled in with `facts`, within `segment_limit` by shortening the organisation's names.

    Raises ValueError when even without the names the text does not fit (a link far too long).
    """
    values = _values(language, facts, region)
    names = {"organisation": values["organisation"], "sender": values["sender"]}

    def compose() -> SmsText:
        text = _fill(template, {**values, **names})
        return SmsText(text, count_segments(text), language)

    sms = compose()
    if sms.count.segments <= segment_limit:
        return sms
    names = {name: gsm7_fold(value) for name, value in names.items()}
    while (sms := compose()).count.segments > segment_limit:
        if not any(names.values()):
            raise ValueError(f"a {language} text cannot fit {segment_limit} segments: the join link is too long")
        longest = max(names, key=lambda name: len(names[name]))
        names[longest] = names[longest][:-1].rstrip()
    return sms


def check_template(
    kind: SmsKind, language: str, template: object, samples: list[VisitFacts], *, region: str, segment_limit: int
) -> SmsText:
    """The longest sample rendering of an admin's template, once it keeps every rule. Raises TemplateRuleError
    (rules: `not_text`, `unknown_placeholder`, `patient_data`, `link_missing`, `link_not_available`,
    `over_segment_limit`)."""
    if not isinstance(template, str) or not template.strip() or len(template) > MAX_TEMPLATE_LENGTH:
        raise TemplateRuleError("not_text", f"template must be text of 1 to {MAX_TEMPLATE_LENGTH} characters.")
    if any(unicodedata.category(c) in ("Cc", "Cf") and c != "\n" for c in template):
        raise TemplateRuleError("not_text", "template must not contain control characters (a new line is fine).")
    names = _PLACEHOLDER.findall(template)
    asked = [name for name in names if name.strip().lower() == "name" or PATIENT_WORDS & _words(name)]
    if asked:
        raise TemplateRuleError(
            "patient_data",
            f"template asks for patient data ({{{asked[0]}}}); a text may say nothing about the patient but "
            "the visit time.",
        )
    unknown = [name for name in names if name not in PLACEHOLDERS]
    if unknown or "{" in _PLACEHOLDER.sub("", template) or "}" in _PLACEHOLDER.sub("", template):
        shown = f"{{{unknown[0]}}}" if unknown else "a lone { or }"
        raise TemplateRuleError(
            "unknown_placeholder", f"template uses {shown}; placeholders are {', '.join(map(_braced, PLACEHOLDERS))}."
        )
    literal = _PLACEHOLDER.sub(" ", template)
    if _PHONE_LIKE.search(literal) or _EMAIL_LIKE.search(literal):
        raise TemplateRuleError(
            "patient_data",
            "template contains a phone number or an e-mail address; the texts may carry no contact data "
            "(patients reply to the sending number).",
        )
    if kind in LINK_KINDS and "link" not in names:
        raise TemplateRuleError("link_missing", f"a {kind} text must contain {{link}}.")
    if kind not in LINK_KINDS and "link" in names:
        raise TemplateRuleError("link_not_available", f"a {kind} text has no link to give; remove {{link}}.")
    rendered = [_render_unshortened(template, language, facts, region) for facts in samples]
    longest = max(rendered, key=lambda sms: (sms.count.segments, sms.count.units))
    if longest.count.segments > segment_limit:
        raise TemplateRuleError(
            "over_segment_limit",
            f"template takes {longest.count.segments} SMS segments ({longest.count.encoding}, "
            f"{longest.count.units} units) with the longest date and the real link; the endpoint's limit is "
            f"{segment_limit}.",
        )
    return longest


def sample_visits(facts: VisitFacts) -> list[VisitFacts]:
    """`facts` at one start time on each weekday and in each month of a year: the longest date names show."""
    start = facts.start
    return [
        VisitFacts(**{**facts.__dict__, "start": when, "until": when + (facts.until - start)})
        for when in [start + timedelta(days=day) for day in range(7)] + [start.replace(month=m) for m in range(1, 13)]
    ]


def _render_unshortened(template: str, language: str, facts: VisitFacts, region: str) -> SmsText:
    text = _fill(template, _values(language, facts, region))
    return SmsText(text, count_segments(text), language)


def visit_time_text(language: str, start: datetime, local_tz: tzinfo, region: str) -> str:
    """The visit's date and time as a text in `language` would put them ("Thu, Jun 12, 2025, 5:30 PM EDT")."""
    values = _values(language, VisitFacts("", "", start, start, local_tz), region)
    return f"{values['date']}, {values['time']}"


def _values(language: str, facts: VisitFacts, region: str) -> dict[str, str]:
    from babel.core import Locale, UnknownLocaleError  # on the first text only: CLDR data is not cold-start work
    from babel.dates import format_skeleton, format_time

    try:
        locale = Locale.parse(f"{language}_{region}")
    except (UnknownLocaleError, ValueError):
        locale = Locale.parse(language)
    start, until = facts.start.astimezone(facts.local_tz), facts.until.astimezone(facts.local_tz)
    zone = start.tzname() or start.strftime("%z")
    until_text = format_time(until, "short", locale=locale)
    if until.date() != start.date():
        until_text = f"{format_skeleton('MMMd', until, locale=locale)} {until_text}"
    values = {
        "organisation": facts.organisation,
        "sender": facts.sender,
        "department": facts.department,
        "date": format_skeleton(DATE_SKELETONS.get(language, "yMMMEd"), start, locale=locale),
        "time": f"{format_time(start, 'short', locale=locale)} {zone}",
        "until": until_text,
        "link": facts.link or "",
    }
    return {name: _plain(value) for name, value in values.items()}


def _plain(value: str) -> str:
    """One line, and CLDR's narrow and no-break spaces as plain ones (they are not GSM-7: one would make the
    whole text UCS-2)."""
    return " ".join("".join(" " if unicodedata.category(c) == "Zs" else c for c in value).split())


def _fill(template: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda match: values[match[1]], template)


def _words(name: str) -> set[str]:
    return set(re.split(r"[^a-z0-9]+", name.lower()))


def _braced(name: str) -> str:
    return "{" + name + "}"
