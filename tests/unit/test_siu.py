"""SIU parsing beyond the corpus: versions, time sources and offsets, framing, phone choice, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from shared.domain.hl7_message import Hl7ErrorCode, Hl7MessageError, parse_time, read_header
from shared.domain.siu import EventKind, PhoneIssue, parse_siu

CHICAGO = ZoneInfo("America/Chicago")
MSH_23 = "MSH|^~\\&|EPIC|HOSP|CONNECTOR|TEAMS|20240301101500||SIU^{event}|CTRL1|P|2.3"
MSH_28 = "MSH|^~\\&|EPIC|HOSP|CONNECTOR|TEAMS|20240301101500-0600||SIU^{event}^SIU_{event}|CTRL1|P|2.8"
SCH = "SCH|PLACER1^EPIC|FILLER1^EPIC|||||||||{tq}"
PID = "PID|1||MRN1^^^H^MR||PATIENT^TEST||19800101|F|||||{home}|{business}"


def message(*segments: str, event: str = "S12", msh: str = MSH_23, separator: str = "\r") -> str:
    return separator.join([msh.format(event=event), *segments]) + separator


def booked(tq: str = "^^30^202403051400^202403051430", home: str = "(312)555-0199^PRN^CP", **kw: str) -> str:
    return message(SCH.format(tq=tq), PID.format(home=home, business=kw.get("business", "")), *kw.get("extra", ()))


def parse(body: str | bytes, region: str = "US"):
    return parse_siu(body, local_tz=CHICAGO, phone_region=region)


def test_v23_start_from_sch11_in_the_endpoint_zone() -> None:
    event = parse(booked())
    assert event.kind is EventKind.BOOKED
    assert event.start == datetime(2024, 3, 5, 14, 0, tzinfo=CHICAGO)
    assert event.start.utcoffset() == timedelta(hours=-6)
    assert event.duration_minutes == 30
    assert event.message_time == datetime(2024, 3, 1, 10, 15, tzinfo=CHICAGO)
    assert (event.appointment_id, event.placer_id, event.filler_id) == ("FILLER1", "PLACER1", "FILLER1")
    assert event.header.version == "2.3"


def test_v28_start_from_tq1_keeps_its_offset_and_wins_over_sch11() -> None:
    body = message(
        SCH.format(tq="^^30^202403051400"),
        "TQ1|1||||||20240305093000+0530|20240305101500+0530",
        PID.format(home="(312)555-0199^PRN^CP", business=""),
        event="S13",
        msh=MSH_28,
    )
    event = parse(body)
    assert event.kind is EventKind.RESCHEDULED
    assert event.start == datetime(2024, 3, 5, 9, 30, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    assert event.start.utcoffset() == timedelta(hours=5, minutes=30)
    assert event.duration_minutes == 45
    assert event.message_time.utcoffset() == timedelta(hours=-6)


def test_earliest_resource_start_when_neither_tq1_nor_sch11_has_one() -> None:
    body = booked(
        tq="",
        extra=(
            "RGS|1",
            "AIS|1||PROC^Visit|202403051500|||20|min",
            "AIG|1||DOC1|||||202403051430|||25|MINUTES",
            "AIL|1||ROOM1|||202403051445|||15|m",
            "AIP|1||DR1^WHO|||202403051600|||60|min",
        ),
    )
    event = parse(body)
    assert event.start == datetime(2024, 3, 5, 14, 30, tzinfo=CHICAGO)
    assert event.duration_minutes == 25


def test_duration_falls_back_to_sch9_and_sch10_units() -> None:
    body = message("SCH|P1|F1|||||||1|HOURS^Hours|^^^202403051400", PID.format(home="", business=""))
    assert parse(body).duration_minutes == 60
    body = message("SCH|P1|F1|||||||90|s|^^^202403051400", PID.format(home="", business=""))
    assert parse(body).duration_minutes == 2  # 90 s, rounded up
    body = message("SCH|P1|F1|||||||3|fortnights|^^^202403051400", PID.format(home="", business=""))
    assert parse(body).duration_minutes is None  # unknown units: no guess


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("202403051400", datetime(2024, 3, 5, 14, 0, tzinfo=CHICAGO)),
        ("20240305140059.25", datetime(2024, 3, 5, 14, 0, 59, 250000, tzinfo=CHICAGO)),
        ("202403051400+0000", datetime(2024, 3, 5, 14, 0, tzinfo=UTC)),
        ("202403051400-0330", datetime(2024, 3, 5, 14, 0, tzinfo=timezone(-timedelta(hours=3, minutes=30)))),
        ("202403051400-0030", datetime(2024, 3, 5, 14, 0, tzinfo=timezone(-timedelta(minutes=30)))),
        ("2024030514", None),  # less than minute precision
        ("202413051400", None),  # month 13
        ("2024-03-05T14:00", None),
        ("202403051400+2500", None),
        ("202403051400junk", None),
    ],
)
def test_hl7_times(text: str, expected: datetime | None) -> None:
    parsed = parse_time(text, CHICAGO)
    assert parsed == expected
    if expected is not None:
        assert parsed.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize("separator", ["\r", "\n", "\r\n"])
def test_segment_separators(separator: str) -> None:
    body = message(SCH.format(tq="^^30^202403051400"), PID.format(home="(312)555-0199^PRN^CP", business=""))
    event = parse(body.replace("\r", separator))
    assert (event.appointment_id, event.phone) == ("FILLER1", "+13125550199")


def test_mllp_framed_bytes_are_unframed() -> None:
    framed = b"\x0b" + booked().encode() + b"\x1c\r"
    assert parse(framed).appointment_id == "FILLER1"


def test_escape_sequences_in_ids_are_decoded() -> None:
    body = message("SCH|P\\T\\1|F\\S\\2\\F\\X|||||||||^^^202403051400", PID.format(home="", business=""))
    event = parse(body)
    assert (event.placer_id, event.filler_id) == ("P&1", "F^2|X")


def test_placer_id_when_no_filler_id() -> None:
    body = message("SCH|PLACER9||||||||||^^^202403051400", PID.format(home="", business=""))
    assert parse(body).appointment_id == "PLACER9"


@pytest.mark.parametrize(
    ("home", "business", "phone"),
    [
        ("^PRN^PH^^1^312^5550100~^ORN^CP^^1^312^5550199", "", "+13125550199"),  # cellular beats personal
        ("^PRN^PH^^1^312^5550100", "^WPN^CP^^^312^5550177", "+13125550177"),  # cellular anywhere, even PID-14
        ("^WPN^PH^^^312^5550111~^PRN^PH^^^312^5550100", "", "+13125550100"),  # personal, work phones ignored
        ("(312)555-0100", "", "+13125550100"),  # v2.3 legacy number alone
        ("(312)555-0100X123^PRN^PH", "", "+13125550100"),  # legacy with an extension
        ("^PRN^CP^^^^^^^^^3125550188", "", "+13125550188"),  # XTN-12 unformatted number
        ("garbage^PRN^CP^^1^312^5550199", "", "+13125550199"),  # structured read before legacy XTN-1
        ("(312)555-0100^^CP^^44^20^1", "", "+13125550100"),  # invalid structured, valid legacy
        ("^NET^Internet^patient@example.org~(312)555-0100^PRN^FX", "", None),  # no textable entry
        ("^EMR^CP^^1^312^5550133~^ORN^PH^^1^312^5550134", "", "+13125550134"),  # an emergency contact's mobile: no
        ("^ORN^PH^^1^312^5550134~^PRN^PH^^1^312^5550135", "", "+13125550135"),  # primary residence before other
        ("^ASN^PH^^1^312^5550136~^WPN^PH^^1^312^5550137~^BPN^BP^^1^312^5550138", "", None),  # none is the patient's
        ("", "(312)555-0139", None),  # an unlabelled PID-14 is a business phone
        ("^PRN^TDD^^1^312^5550140", "", None),  # a text telephone for the deaf takes no SMS
        ("(111)111-1111^PRN^CP", "", None),  # invalid number
    ],
)
def test_phone_choice(home: str, business: str, phone: str | None) -> None:
    event = parse(booked(home=home, business=business))
    assert event.phone == phone


PID_28 = "PID|1||MRN1^^^H^MR||PATIENT^TEST||19800101|F" + "|" * 32 + "{telecoms}"


@pytest.mark.parametrize(
    ("pid13", "pid40", "phone"),
    [
        ("", "^PRN^PH^^1^312^5550150~^PRN^CP^^1^312^5550151", "+13125550151"),  # v2.8: PID-40 alone
        ("^PRN^CP^^1^312^5550152", "^PRN^CP^^1^312^5550153", "+13125550153"),  # PID-40 before deprecated PID-13
        ("", "^PRN^CP^^1^312^5550154^^^^^^^^^^^2~^ORN^CP^^1^312^5550155^^^^^^^^^^^1", "+13125550155"),  # XTN-18
        ("", "^PRN^CP^^1^312^5550156^^^^^^20200101^20240229~^PRN^PH^^1^312^5550157", "+13125550157"),  # expired
        ("", "^PRN^CP^^1^312^5550158^^^^^^20200101^20240302", "+13125550158"),  # expires after the message
        ("", "^NET^Internet^a@example.org~^PRN^CP^^1^312^5550159^^^^^^^^^^^" + "9" * 5000, "+13125550159"),
    ],
    ids=["pid40-alone", "pid40-first", "preference-order", "expired", "not-yet-expired", "huge-preference"],
)
def test_v28_telecoms_in_pid40(pid13: str, pid40: str, phone: str) -> None:
    body = message(
        SCH.format(tq="^^30^202403051400"),
        PID_28.format(telecoms=pid40).replace("|F|||||", f"|F|||||{pid13}", 1),
        msh=MSH_28,
    )
    assert parse(body).phone == phone


def test_phone_issue_says_why_there_is_none() -> None:
    assert parse(booked(home="")).phone_issue is PhoneIssue.NO_PHONE
    assert parse(booked(home="^NET^Internet^a@b.org")).phone_issue is PhoneIssue.NO_PHONE
    assert parse(booked(home="(111)111-1111^PRN^CP")).phone_issue is PhoneIssue.INVALID_PHONE
    assert parse(booked(home='""')).phone_issue is PhoneIssue.NO_PHONE


def test_international_numbers_keep_their_country() -> None:
    assert parse(booked(home="+44 7400 123456^PRN^CP")).phone == "+447400123456"
    assert parse(booked(home="^PRN^CP^^44^7400^123456")).phone == "+447400123456"
    assert parse(booked(home="07400 123456^PRN^CP"), region="GB").phone == "+447400123456"


def test_other_siu_events_and_other_messages_are_ignored_with_a_reason() -> None:
    s18 = parse(message(SCH.format(tq=""), event="S18"))
    assert (s18.kind, s18.ignored_reason) == (EventKind.IGNORED, "SIU event S18 is not acted on")
    adt = parse("MSH|^~\\&|A|B|C|D|20240301101500||ADT^A04|9|P|2.5\rPID|1\r")
    assert adt.kind is EventKind.IGNORED
    assert "ADT" in adt.ignored_reason


@pytest.mark.parametrize(
    ("body", "reason", "error_code"),
    [
        ("", "empty", Hl7ErrorCode.REQUIRED_FIELD_MISSING),
        ("PID|1||x\r", "no MSH segment", Hl7ErrorCode.REQUIRED_FIELD_MISSING),
        ("MSH|^~\\&|A|B|C|D|20240301||SIU^S12|1|P|3.0\r", "MSH-12", Hl7ErrorCode.UNSUPPORTED_VERSION_ID),
        ("MSH|^~\\&|A|B|C|D|20240301||SIU^S12|1|P|\r", "MSH-12", Hl7ErrorCode.UNSUPPORTED_VERSION_ID),
        ("MSH|^~\\&|A|B|C|D|yesterday||SIU^S12|1|P|2.5\rSCH|1\r", "MSH-7", Hl7ErrorCode.DATA_TYPE_ERROR),
        ("MSH|^~\\&|A|B|C|D|20240301||SIU^S12|1|P|2.5\rPID|1\r", "SCH segment missing",
         Hl7ErrorCode.SEGMENT_SEQUENCE_ERROR),
        ("MSH|^~\\&|A|B|C|D|20240301||SIU^S12|1|P|2.5\rSCH|||||||||||^^^202403051400\r", "no appointment id",
         Hl7ErrorCode.REQUIRED_FIELD_MISSING),
        ("MSH|^~\\&|A|B|C|D|20240301||SIU^S12|1|P|2.5\rSCH||" + "\\T\\" * 86 + "|||||||||^^^202403051400\r",
         "too long", Hl7ErrorCode.DATA_TYPE_ERROR),
        ("MSH|^~\\&|A|B|C|D|20240301||SIU^S15|1|P|2.5\rSCH|1|2\r", "no start time",
         Hl7ErrorCode.REQUIRED_FIELD_MISSING),
        ("MSH|^~\\&|A|B|C|D|20240301||SIU^S12|1|P|2.5\rSCH|1\rMSH|^~\\&|A|B|C|D|20240301||SIU^S12|2|P|2.5\r",
         "more than one message", Hl7ErrorCode.SEGMENT_SEQUENCE_ERROR),
    ],
)  # fmt: skip
def test_unusable_messages_raise_with_a_reason_and_are_rejected(
    body: str, reason: str, error_code: Hl7ErrorCode
) -> None:
    with pytest.raises(Hl7MessageError, match=reason) as raised:
        parse(body)
    assert raised.value.error_code is error_code


def test_errors_carry_the_header_but_never_field_values() -> None:
    body = "MSH|^~\\&|EPIC|HOSP|C|D|20240301||SIU^S12|CTRL9|P|2.5\rPID|1||MRN777||SECRETNAME\r"
    with pytest.raises(Hl7MessageError) as raised:
        parse(body)
    assert raised.value.header is not None
    assert raised.value.header.control_id == "CTRL9"
    assert "MRN777" not in str(raised.value)
    assert "SECRETNAME" not in str(raised.value)


def test_a_batch_envelope_around_one_message_is_unwrapped() -> None:
    body = "BHS|^~\\&|EPIC\r" + booked() + "BTS|1\r"
    assert parse(body).appointment_id == "FILLER1"


def test_non_utf8_bytes_are_read_as_latin1() -> None:
    body = booked().replace("PATIENT", "M\xfcLLER").encode("latin-1")
    assert parse(body).appointment_id == "FILLER1"


def test_read_header_is_lenient_for_acks() -> None:
    header = read_header(b"\x0bMSH|^~\\&|EPIC|HOSP|C|D|2024||SIU^S12|C7|P|2.4|broken\x1c\r")
    assert header is not None
    assert (header.sending_application, header.event, header.control_id, header.version) == ("EPIC", "S12", "C7", "2.4")
    assert read_header(b"not hl7 at all") is None
    assert read_header(b"MSH") is None
