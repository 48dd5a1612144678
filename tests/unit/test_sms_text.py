"""GSM-7 / UCS-2 segment counting at its boundaries, and texts that always fit two segments with their link."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.sms_text import MAX_SEGMENTS, SmsKind, count_segments, join_url, render_sms

START = datetime(2024, 11, 6, 17, 0, tzinfo=UTC)
NEW_YORK = ZoneInfo("America/New_York")
LINK = join_url("https://connector.contoso-health.org/", "q3VbT-8_xYz0aBcDeFgHiJkLmNoPqRsT")


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "GSM-7", 0, 1),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # extension characters cost two septets
        ("€" * 81, "GSM-7", 162, 2),
        ("a" * 152 + "€", "GSM-7", 154, 1),
        ("a" * 158 + "[]", "GSM-7", 162, 2),
        ("a" * 152 + "{" + "a" * 10, "GSM-7", 164, 2),  # the escape pair moves whole to part two
        ("a" * 152 + "{" + "a" * 152, "GSM-7", 306, 3),  # ... so 306 septets need three parts here
        ("é" * 160, "GSM-7", 160, 1),  # é is in the basic table
        ("í" * 70, "UCS-2", 70, 1),  # í is not
        ("í" * 71, "UCS-2", 71, 2),
        ("a" * 133 + "í", "UCS-2", 134, 2),
        ("a" * 134 + "í", "UCS-2", 135, 3),
        ("😀" * 35, "UCS-2", 70, 1),  # beyond the BMP: two units each
        ("a" * 70 + "😀", "UCS-2", 72, 2),
        ("a" * 66 + "😀" + "a" * 66, "UCS-2", 134, 3),  # the surrogate pair is not split across parts
    ],
)
def test_segment_counts(text: str, encoding: str, units: int, segments: int) -> None:
    count = count_segments(text)
    assert (count.encoding, count.units, count.segments) == (encoding, units, segments)


def test_texts_name_the_organisation_the_local_time_the_link_and_the_opt_out() -> None:
    for kind in (SmsKind.SCHEDULED, SmsKind.UPDATED, SmsKind.REMINDER):
        sms = render_sms(kind, organisation="Contoso Health", start=START, local_tz=NEW_YORK, link=LINK)
        assert sms.text.startswith("Contoso Health: ")
        assert "Wed 6 Nov 2024, 12:00 EST" in sms.text
        assert LINK in sms.text
        assert sms.text.endswith("Reply STOP to opt out.")
        assert sms.count.segments <= MAX_SEGMENTS
    cancelled = render_sms(SmsKind.CANCELLED, organisation="Contoso Health", start=START, local_tz=NEW_YORK)
    assert "cancelled" in cancelled.text
    assert "/api/join" not in cancelled.text
    assert cancelled.count.segments == 1


def test_a_visit_link_is_required_except_for_cancellations() -> None:
    with pytest.raises(ValueError, match="join link"):
        render_sms(SmsKind.SCHEDULED, organisation="X", start=START, local_tz=NEW_YORK)


def test_a_long_non_gsm_name_is_folded_then_shortened_never_the_link() -> None:
    name = "Clínica São José \u2013 Hospital Universitário da Faculdade de Medicina de São Paulo " * 3
    sms = render_sms(SmsKind.SCHEDULED, organisation=name, start=START, local_tz=NEW_YORK, link=LINK)
    assert sms.count.encoding == "GSM-7"
    assert sms.count.segments == MAX_SEGMENTS
    assert sms.text.startswith("Clinica Sao José Hospital Universitario")
    assert LINK in sms.text


def test_a_short_non_gsm_name_is_kept_when_it_fits() -> None:
    sms = render_sms(SmsKind.CANCELLED, organisation="Clínica", start=START, local_tz=NEW_YORK)
    assert sms.text.startswith("Clínica: ")
    assert sms.count.encoding == "UCS-2"
    assert sms.count.segments <= MAX_SEGMENTS


def test_a_link_too_long_for_two_segments_is_refused() -> None:
    with pytest.raises(ValueError, match="too long"):
        render_sms(SmsKind.SCHEDULED, organisation="X", start=START, local_tz=NEW_YORK, link="https://x/" + "a" * 300)


@given(
    name=st.text(min_size=0, max_size=300),
    kind=st.sampled_from(list(SmsKind)),
    zone=st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham"]),
)
def test_every_text_fits_two_segments_and_keeps_its_link(name: str, kind: SmsKind, zone: str) -> None:
    link = None if kind is SmsKind.CANCELLED else LINK
    sms = render_sms(kind, organisation=name, start=START, local_tz=ZoneInfo(zone), link=link)
    assert sms.count.segments <= MAX_SEGMENTS
    assert count_segments(sms.text) == sms.count
    if link:
        assert link in sms.text
    assert sms.text.endswith("Reply STOP to opt out.")
