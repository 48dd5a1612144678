"""The patients' texts in every built-in language: dates in the visit's zone as the language writes them, segment
counts, the choice of language and department, and the rules an edited template must keep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.config import DEFAULT_SEGMENT_LIMIT
from shared.domain.languages import language_of
from shared.domain.sms_templates import (
    BUILT_IN,
    BUILT_IN_LANGUAGES,
    LINK_KINDS,
    CustomText,
    VisitFacts,
    check_template,
    choose_template,
    render_text,
    sample_visits,
)
from shared.domain.sms_text import SmsKind, count_segments, join_url
from shared.errors import TemplateRuleError

START = datetime(2024, 11, 6, 17, 0, tzinfo=UTC)  # a Wednesday
LINK = join_url("https://connector.contoso-health.org/", "us-" + "q3VbT-8_xYz0aBcDeFgHiJkLmNoPqRsTuVwXyZ01234")


def facts(zone: str = "America/New_York", **changes: object) -> VisitFacts:
    values: dict = {
        "organisation": "Riverside Health System",
        "sender": "Riverside Clinic",
        "start": START,
        "until": START + timedelta(minutes=90),
        "local_tz": ZoneInfo(zone),
        "department": "Family Medicine",
        "link": LINK,
    }
    return VisitFacts(**{**values, **changes})


@pytest.mark.parametrize(
    ("language", "zone", "date", "time", "until"),
    [
        ("en", "America/New_York", "Wed, Nov 6, 2024", "12:00 PM EST", "1:30 PM"),
        ("es", "America/New_York", "6 nov 2024", "12:00 p.m. EST", "1:30 p.m."),
        ("da", "Europe/Copenhagen", "ons. 6. nov. 2024", "18.00 CET", "19.30"),
        ("it", "Europe/Rome", "mer 6 nov 2024", "18:00 CET", "19:30"),
    ],
)
def test_each_language_writes_the_visit_time_its_own_way_in_the_visits_zone(
    language: str, zone: str, date: str, time: str, until: str
) -> None:
    sms = render_text(BUILT_IN[language][SmsKind.SCHEDULED], language, facts(zone), region="US", segment_limit=3)
    assert date in sms.text
    assert time in sms.text
    assert until in sms.text
    assert LINK in sms.text
    assert sms.text.startswith("Riverside Clinic: ")
    assert sms.language == language


def test_a_visit_ending_after_midnight_says_the_day_the_link_stops() -> None:
    late = facts("America/New_York", start=START.replace(hour=4), until=START.replace(hour=6))
    sms = render_text(BUILT_IN["en"][SmsKind.REMINDER], "en", late, region="US", segment_limit=3)
    assert "Nov 5, 2024 at 11:00 PM EST" in sms.text
    assert "until Nov 6 1:00 AM" in sms.text


def test_a_daylight_saving_visit_shows_the_summer_zone() -> None:
    summer = facts("Europe/Copenhagen", start=START.replace(month=7), until=START.replace(month=7) + timedelta(hours=1))
    sms = render_text(BUILT_IN["da"][SmsKind.SCHEDULED], "da", summer, region="DK", segment_limit=3)
    assert "kl. 19.00 CEST" in sms.text


@pytest.mark.parametrize("language", BUILT_IN_LANGUAGES)
@pytest.mark.parametrize("kind", list(SmsKind))
def test_every_built_in_text_keeps_the_rules_and_fits_on_every_day_of_the_year(language: str, kind: SmsKind) -> None:
    visit = facts(link=LINK if kind in LINK_KINDS else None)
    longest = check_template(
        kind, language, BUILT_IN[language][kind], sample_visits(visit), region="US", segment_limit=DEFAULT_SEGMENT_LIMIT
    )
    assert longest.count.segments <= 2
    assert longest.count.encoding == "GSM-7"  # written to stay GSM-7: twice the room per segment
    assert "STOP" in longest.text


@pytest.mark.parametrize(
    ("language", "kind", "segments"),
    [
        ("en", SmsKind.SCHEDULED, 2),
        ("en", SmsKind.CANCELLED, 1),
        ("en", SmsKind.READY, 2),
        ("es", SmsKind.CANCELLED, 2),
        ("da", SmsKind.CANCELLED, 1),
        ("it", SmsKind.REMINDER, 2),
    ],
)
def test_segment_counts_of_the_texts(language: str, kind: SmsKind, segments: int) -> None:
    visit = facts(link=LINK if kind in LINK_KINDS else None)
    sms = render_text(BUILT_IN[language][kind], language, visit, region="US", segment_limit=3)
    assert sms.count == count_segments(sms.text)
    assert sms.count.segments == segments


def test_no_cldr_space_turns_a_text_into_ucs2() -> None:
    """CLDR writes "12:00\u202fPM" with a narrow no-break space, which GSM-7 has not."""
    sms = render_text("{time} {until}", "en", facts(), region="US", segment_limit=1)
    assert sms.text == "12:00 PM EST 1:30 PM"
    assert sms.count.encoding == "GSM-7"


def test_a_long_non_gsm_name_is_folded_then_shortened_never_the_link() -> None:
    name = "Clínica São José \u2013 Hospital Universitário da Faculdade de Medicina de São Paulo " * 3
    sms = render_text(BUILT_IN["en"][SmsKind.SCHEDULED], "en", facts(sender=name), region="US", segment_limit=2)
    assert sms.count.encoding == "GSM-7"
    assert sms.count.segments == 2
    assert sms.text.startswith("Clinica Sao José Hospital Universitario")
    assert LINK in sms.text


def test_a_link_too_long_for_the_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="too long"):
        render_text("{link}", "en", facts(link="https://x/" + "a" * 400), region="US", segment_limit=2)


@settings(max_examples=60, deadline=None)
@given(
    name=st.text(min_size=0, max_size=200),
    language=st.sampled_from(BUILT_IN_LANGUAGES),
    kind=st.sampled_from(list(SmsKind)),
    zone=st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham"]),
)
def test_every_text_fits_its_limit_and_keeps_its_link(name: str, language: str, kind: SmsKind, zone: str) -> None:
    link = LINK if kind in LINK_KINDS else None
    sms = render_text(
        BUILT_IN[language][kind], language, facts(zone, sender=name, link=link), region="US", segment_limit=2
    )
    assert sms.count.segments <= 2
    assert count_segments(sms.text) == sms.count
    if link:
        assert link in sms.text


TEXTS = (
    CustomText(SmsKind.REMINDER, "es", None, "{sender}: recordatorio {date} {time}. {link}"),
    CustomText(SmsKind.REMINDER, "es", "CARDIO", "{sender} Cardiologia: {date} {time}. {link}"),
    CustomText(SmsKind.REMINDER, "fr", None, "{sender}: rappel {date} {time}. {link}"),
)


@pytest.mark.parametrize(
    ("language", "department", "expected"),
    [
        ("es", "CARDIO", ("{sender} Cardiologia: {date} {time}. {link}", "es")),
        ("es", "OTHER", ("{sender}: recordatorio {date} {time}. {link}", "es")),
        ("es", None, ("{sender}: recordatorio {date} {time}. {link}", "es")),
        ("fr", None, ("{sender}: rappel {date} {time}. {link}", "fr")),  # an admin's own language
        ("da", "CARDIO", (BUILT_IN["da"][SmsKind.REMINDER], "da")),  # built in
        ("ja", None, (BUILT_IN["it"][SmsKind.REMINDER], "it")),  # no texts in Japanese: the default language
        (None, None, (BUILT_IN["it"][SmsKind.REMINDER], "it")),  # no language stated: the default language
    ],
)
def test_the_patients_language_then_the_default_and_the_departments_text_then_the_endpoints(
    language: str | None, department: str | None, expected: tuple[str, str]
) -> None:
    assert choose_template(SmsKind.REMINDER, language, "it", department, TEXTS) == expected


def test_a_french_text_is_dated_in_french() -> None:
    sms = render_text(TEXTS[2].template, "fr", facts("Europe/Paris"), region="FR", segment_limit=1)
    assert "mer. 6 nov. 2024" in sms.text


@pytest.mark.parametrize(
    ("identifier", "alternate", "language"),
    [
        ("SPA", "", "es"),
        ("spa", "", "es"),
        ("es", "", "es"),
        ("es-MX", "", "es"),
        ("en_US", "", "en"),
        ("DAN", "", "da"),
        ("ita", "", "it"),
        ("ger", "", "de"),
        ("deu", "", "de"),
        ("10", "SPA", "es"),  # a site's own code in CWE-1, the ISO one in CWE-4
        ("Spanish", "", None),  # text is not a code
        ("XX", "", None),
        ("", "", None),
        ("e's", "", None),
    ],
)
def test_pid15_codes(identifier: str, alternate: str, language: str | None) -> None:
    assert language_of(identifier, alternate) == language


SAMPLES = sample_visits(facts())


@pytest.mark.parametrize(
    ("kind", "template", "rule"),
    [
        (SmsKind.REMINDER, "{sender}: {date} {link} {room}", "unknown_placeholder"),
        (SmsKind.REMINDER, "{sender}: {date} {link} {patient_name}", "patient_data"),
        (SmsKind.REMINDER, "{sender}: {date} {link} {Date-Of-Birth}", "patient_data"),
        (SmsKind.REMINDER, "{sender}: {date} {link} {Link}", "unknown_placeholder"),
        (SmsKind.REMINDER, "{sender}: {date} {link} {link.__class__}", "unknown_placeholder"),
        (SmsKind.REMINDER, "{sender}: {date} {link} {0}", "unknown_placeholder"),
        (SmsKind.REMINDER, "{sender}: {date} {link} }", "unknown_placeholder"),
        (SmsKind.REMINDER, "{sender}: {date} {link} {", "unknown_placeholder"),
        (SmsKind.REMINDER, "Hello {first_name}, {date} {link}", "patient_data"),
        (SmsKind.REMINDER, "{mrn}: {date} {link}", "patient_data"),
        (SmsKind.REMINDER, "Call +1 (206) 555-0162 or {link}", "patient_data"),
        (SmsKind.REMINDER, "Mail jose.nunez@example.org or {link}", "patient_data"),
        (SmsKind.REMINDER, "{sender}: your visit is at {time}.", "link_missing"),
        (SmsKind.READY, "{sender}: your clinician is ready.", "link_missing"),
        (SmsKind.CANCELLED, "{sender}: cancelled. {link}", "link_not_available"),
        (SmsKind.REMINDER, "{link} " + "x" * 300, "over_segment_limit"),
        (SmsKind.REMINDER, "{link} " + "\u0131" * 140, "over_segment_limit"),  # UCS-2: 67 per part
        (SmsKind.REMINDER, "", "not_text"),
        (SmsKind.REMINDER, "{link}" + "x" * 480, "not_text"),
        (SmsKind.REMINDER, "{link}\x07", "not_text"),
        (SmsKind.REMINDER, "{link}\u202e", "not_text"),
    ],
)
def test_a_template_that_breaks_a_rule_is_refused_naming_the_rule(kind: SmsKind, template: str, rule: str) -> None:
    with pytest.raises(TemplateRuleError) as refused:
        check_template(kind, "en", template, SAMPLES, region="US", segment_limit=2)
    assert refused.value.code == f"template_{rule}"
    assert "0162" not in refused.value.message
    assert "nunez" not in refused.value.message


def test_the_limit_counts_the_longest_day_not_todays() -> None:
    """Fits on a Wednesday in November, not on a Wednesday in September: refused (the sample covers the year)."""
    template = "{date}{date}{date}{date}{date}{date}{date}{date} {link}"
    today = render_text(template, "en", facts(), region="US", segment_limit=9)
    limit = today.count.segments
    longest = check_template(SmsKind.REMINDER, "en", template, SAMPLES, region="US", segment_limit=9)
    assert longest.count.units > today.count.units
    if longest.count.segments > limit:
        with pytest.raises(TemplateRuleError, match="segments"):
            check_template(SmsKind.REMINDER, "en", template, SAMPLES, region="US", segment_limit=limit)


def test_a_template_that_keeps_the_rules_renders_with_its_segment_count() -> None:
    longest = check_template(
        SmsKind.READY, "en", "{sender} ({department}) is ready: {link}", SAMPLES, region="US", segment_limit=2
    )
    assert longest.text == f"Riverside Clinic (Family Medicine) is ready: {LINK}"
    assert longest.count.segments == 1
