"""Every corpus message read as the connector reads it: event, ids, start with offset, duration, phone."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from shared.domain.siu import EventKind, PhoneIssue, parse_siu
from tests.corpus import corpus_file, corpus_files

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
PARIS = ZoneInfo("Europe/Paris")

# file: (zone, region, event, kind, control id, appointment id, placer, filler, start, minutes, phone or issue)
EXPECTED = {
    "01_renalware_blt_siu_s12.hl7": (LONDON, "GB", "S12", EventKind.BOOKED, "Q166323123117", "149549015",
        "149549015", None, "2024-11-06T12:00:00+00:00", 30, PhoneIssue.INVALID_PHONE),
    "02_renalware_blt_siu_s13.hl7": (LONDON, "GB", "S13", EventKind.RESCHEDULED, "Q1663236015T1667362682A1117",
        "149549023", "149549023", None, "2024-11-06T11:30:00+00:00", 30, PhoneIssue.INVALID_PHONE),
    "03_renalware_blt_siu_s14.hl7": (LONDON, "GB", "S14", EventKind.MODIFIED, "Q1663236015T1667362682A1117",
        "149549023", "149549023", None, "2024-11-06T11:30:00+00:00", 30, PhoneIssue.INVALID_PHONE),
    "04_renalware_blt_siu_s15.hl7": (LONDON, "GB", "S15", EventKind.CANCELLED, "Q166123117", "149549027",
        "149549027", None, "2024-11-13T10:00:00+00:00", 60, "+447898989898"),
    "08_ms_siu_s12_01.hl7": (NEW_YORK, "US", "S12", EventKind.BOOKED, "MSG00012", "36996", "12345", "36996",
        "2021-09-24T09:30:00+02:15", 50, PhoneIssue.INVALID_PHONE),
    "09_ms_siu_s12_02_multi_rgs.hl7": (NEW_YORK, "US", "S12", EventKind.BOOKED, "MSG00012", "36996", "12345",
        "36996", "2021-08-18T11:30:00+02:15", 60, PhoneIssue.INVALID_PHONE),
    "10_ms_siu_s13_01.hl7": (NEW_YORK, "US", "S13", EventKind.RESCHEDULED, "MSG00013", "36996", "12345", "36996",
        "2021-09-24T09:30:00+02:15", 50, PhoneIssue.INVALID_PHONE),
    "11_ms_siu_s14_01.hl7": (NEW_YORK, "US", "S14", EventKind.MODIFIED, "MSG00014", "36996", "12345", "36996",
        "2021-09-24T09:30:00+02:15", 50, PhoneIssue.INVALID_PHONE),
    "12_ms_siu_s15_01.hl7": (NEW_YORK, "US", "S15", EventKind.CANCELLED, "MSG00015", "36996", "12345", "36996",
        "2021-09-24T09:30:00+02:15", 50, PhoneIssue.INVALID_PHONE),
    "13_ms_siu_s16_01.hl7": (NEW_YORK, "US", "S16", EventKind.DISCONTINUED, "MSG00016", "36996", "12345", "36996",
        "2021-09-24T09:30:00+02:15", 50, PhoneIssue.INVALID_PHONE),
    "14_ms_siu_s17_01.hl7": (NEW_YORK, "US", "S17", EventKind.DELETED, "MSG00017", "36996", "12345", "36996",
        "2021-09-24T09:30:00+02:15", 50, PhoneIssue.INVALID_PHONE),
    "15_ms_siu_s26_01.hl7": (NEW_YORK, "US", "S26", EventKind.NO_SHOW, "MSG00026", "36996", "12345", "36996",
        "2021-09-24T09:30:00+02:15", 50, PhoneIssue.INVALID_PHONE),
    # SCH-11 says 08:45-09:30 while SCH-9 says 60 m: the end of the start's own source wins.
    "16_mamori_mesa_op_siu_s12.hl7": (NEW_YORK, "US", "S12", EventKind.BOOKED, "24916560", "2196178", "10345",
        "2196178", "2011-06-17T08:45:00-04:00", 45, "+12605551234"),
    "17_mamori_athenanet_siu_s15.hl7": (NEW_YORK, "US", "S15", EventKind.CANCELLED, "189M90009", "33910", "33910",
        "33910", "2015-05-19T13:00:00-04:00", 15, PhoneIssue.INVALID_PHONE),
    "18_athena_siu_s12_403_trailing_fs.hl7": (NEW_YORK, "US", "S12", EventKind.BOOKED, "403", "231015", "231015",
        "231015", "2004-03-22T13:20:00-05:00", 10, "+12295688716"),
    "19_athena_siu_s12_501_trailing_fs.hl7": (NEW_YORK, "US", "S12", EventKind.BOOKED, "501", "347606", "347606",
        "347606", "2004-03-22T15:40:00-05:00", 10, PhoneIssue.INVALID_PHONE),
    "20_allscripts_ntierprise_siu_s12.hl7": (NEW_YORK, "US", "S12", EventKind.BOOKED, "8907-45", "13030", "1209",
        "13030", "2019-04-23T14:00:00-04:00", 15, PhoneIssue.INVALID_PHONE),
    # SCH-11.4 wins over AIS-4 (a day earlier); MSH-10 " 38762" is read without its blank.
    "21_hapi_orsos_siu_s14_multi_rgs.hl7": (NEW_YORK, "US", "S14", EventKind.MODIFIED, "38762", "569576", "ADS",
        "569576", "2010-04-07T16:10:00-04:00", 379, PhoneIssue.NO_PHONE),
    "22_rimiti_fr_siu_s12_utf8.hl7": (PARIS, "FR", "S12", EventKind.BOOKED, "154779", "49849903800", None,
        "49849903800", "2016-12-31T11:00:00+01:00", 30, "+33100000000"),
    "23_rimiti_fr_siu_s15_utf8.hl7": (PARIS, "FR", "S15", EventKind.CANCELLED, "256660", "49849903800", None,
        "49849903800", "2016-12-31T11:00:00+01:00", 30, "+33100000000"),
    "24_rimiti_fr_siu_s26_utf8.hl7": (PARIS, "FR", "S26", EventKind.NO_SHOW, "256660", "49849903800", None,
        "49849903800", "2016-12-31T11:00:00+01:00", 30, "+33100000000"),
    "25_webchart_out_siu_s12.hl7": (ZoneInfo("Pacific/Honolulu"), "US", "S12", EventKind.BOOKED,
        "DSD1619205057152978", "2677255", "2588939", "2677255", "2021-04-27T08:15:00-10:00", 15,
        PhoneIssue.INVALID_PHONE),
    "26_webchart_out_siu_s14_escape.hl7": (ZoneInfo("Pacific/Honolulu"), "US", "S14", EventKind.MODIFIED,
        "DSD1619701225649131", "2581249", "2581249", None, "2021-04-28T16:00:00-10:00", 30,
        PhoneIssue.INVALID_PHONE),
    "27_webchart_out_siu_s15_noshow.hl7": (ZoneInfo("Pacific/Honolulu"), "US", "S15", EventKind.CANCELLED,
        "DSD1619689841639741", "2677255", "2588939", "2677255", "2021-04-27T08:15:00-10:00", 15,
        PhoneIssue.INVALID_PHONE),
    "28_webchart_in_siu_s12_v23.hl7": (NEW_YORK, "US", "S12", EventKind.BOOKED, "24916560", "2196178", "10345",
        "2196178", "2011-06-17T08:45:00-04:00", 45, "+12605551234"),
    # SCH-11.5 ends the next day: the message says 24 h 20 min, and we do not second-guess it.
    "30_macpractice_siu_s17.hl7": (NEW_YORK, "US", "S17", EventKind.DELETED, "11", "688", "688", None,
        "2012-08-06T15:30:00-04:00", 1460, PhoneIssue.INVALID_PHONE),
    "31_initech_siu_s17_tq1.hl7": (NEW_YORK, "US", "S17", EventKind.DELETED, "20210331145628509744", "APPTID123",
        "APPTID123", None, "2021-04-06T13:30:00-04:00", 15, "+17705555555"),
}  # fmt: skip

IGNORED = {
    "05_renalware_medway_adt_a05_appt.hl7": "A05",
    "06_renalware_medway_adt_a38_cancel.hl7": "A38",
    "07_renalware_ipm_adt_a28.hl7": "A28",
    "29_webchart_out_adt_a04.hl7": "A04",
    "32_cerner_hnam_adt_a01.hl7": "A01",
    "33_vinah_batch_adt_a04.hl7": "A04",
}


def test_every_corpus_file_has_an_expectation() -> None:
    assert {path.name for path in corpus_files()} == set(EXPECTED) | set(IGNORED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_scheduling_message(name: str) -> None:
    zone, region, event, kind, control_id, appointment, placer, filler, start, minutes, phone = EXPECTED[name]
    parsed = parse_siu(corpus_file(name), local_tz=zone, phone_region=region)
    assert (parsed.event, parsed.kind, parsed.control_id) == (event, kind, control_id)
    assert (parsed.appointment_id, parsed.placer_id, parsed.filler_id) == (appointment, placer, filler)
    assert parsed.start is not None
    assert parsed.start.isoformat() == start
    assert parsed.duration_minutes == minutes
    assert parsed.message_time.tzinfo is not None
    if isinstance(phone, PhoneIssue):
        assert (parsed.phone, parsed.phone_issue) == (None, phone)
    else:
        assert (parsed.phone, parsed.phone_issue) == (phone, None)


@pytest.mark.parametrize("name", sorted(IGNORED))
def test_corpus_messages_we_do_not_act_on_are_ignored_with_a_reason(name: str) -> None:
    parsed = parse_siu(corpus_file(name), local_tz=NEW_YORK, phone_region="US")
    assert parsed.kind is EventKind.IGNORED
    assert parsed.event == IGNORED[name]
    assert parsed.ignored_reason
    assert (parsed.appointment_id, parsed.start, parsed.phone) == (None, None, None)


def test_the_same_control_id_with_a_different_event_is_still_told_apart() -> None:
    rescheduled = parse_siu(corpus_file("02_renalware_blt_siu_s13.hl7"), local_tz=LONDON, phone_region="GB")
    modified = parse_siu(corpus_file("03_renalware_blt_siu_s14.hl7"), local_tz=LONDON, phone_region="GB")
    assert rescheduled.control_id == modified.control_id
    assert (rescheduled.kind, modified.kind) == (EventKind.RESCHEDULED, EventKind.MODIFIED)


def test_the_default_region_decides_numbers_without_a_country_code() -> None:
    as_us = parse_siu(corpus_file("04_renalware_blt_siu_s15.hl7"), local_tz=LONDON, phone_region="US")
    assert (as_us.phone, as_us.phone_issue) == (None, PhoneIssue.INVALID_PHONE)
