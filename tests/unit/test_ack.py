"""ACKs echo the sender's MSH, say AA/AE/AR, and explain errors in ERR in the layout of the message's version."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import hl7
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.ack import build_ack, parsed_ack
from shared.domain.hl7_message import Hl7ErrorCode, Hl7MessageError, MessageHeader, read_header
from shared.domain.siu import parse_siu
from tests.samples import sample

NOW = datetime(2024, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=-6)))


def test_aa_echoes_the_sender_and_the_control_id() -> None:
    header = read_header(sample("epic_v28_s12.hl7"))
    ack = build_ack(header, "AA", now=NOW, control_id="ACK1")
    parsed = hl7.parse(ack)
    msh = parsed.segment("MSH")
    assert ack.endswith("\r")
    assert (str(msh(3)), str(msh(4))) == ("TEAMSCONNECTOR", "RIVERSIDE")  # we answer as the receiving application
    assert (str(msh(5)), str(msh(6))) == ("EPIC", "RIVERSIDE")
    assert str(msh(7)) == "20240301153000+0000"
    assert str(msh(9)) == "ACK^S12^ACK"
    assert (str(msh(10)), str(msh(11)), str(msh(12))) == ("ACK1", "P", "2.8")
    assert [str(segment[0]) for segment in parsed] == ["MSH", "MSA"]
    assert str(parsed.segment("MSA")) == "MSA|AA|C28S12001"


def test_from_v25_err_3_4_8_and_from_v27_no_msa_3() -> None:
    body = sample("epic_v28_s12.hl7").replace(b"\rSCH|", b"\rZZZ|")
    with pytest.raises(Hl7MessageError) as raised:
        parse_siu(body, local_tz=UTC, phone_region="US")
    error = raised.value
    ack = hl7.parse(build_ack(error.header, "AR", now=NOW, reason=error.message, error_code=error.error_code))
    assert str(ack.segment("MSA")) == "MSA|AR|C28S12001"
    err = ack.segment("ERR")
    assert str(err(3)) == "100^Segment sequence error^HL70357"
    assert str(err(4)) == "E"
    assert str(err(8)) == "SCH segment missing"


def test_ar_up_to_v24_uses_err_1_and_msa_3() -> None:
    header = read_header(sample("epic_v23_s12.hl7"))
    ack = hl7.parse(
        build_ack(header, "AR", now=NOW, reason="bad | reason ^ here", error_code=Hl7ErrorCode.UNSUPPORTED_EVENT_CODE)
    )
    assert str(ack.segment("MSH")(12)) == "2.3"
    msa = ack.segment("MSA")
    assert (str(msa(1)), str(msa(2))) == ("AR", "R23S12001")
    assert ack.unescape(str(msa(3))) == "bad | reason ^ here"  # separators in a reason are escaped
    assert ack["ERR.F1.R1.C4.S1"] == "201"
    assert ack["ERR.F1.R1.C4.S3"] == "HL70357"


def test_an_unparsable_body_still_gets_an_ack() -> None:
    ack = hl7.parse(build_ack(read_header(b"\x00\xffgarbage"), "AR", now=NOW, reason="not an HL7 v2 message"))
    assert str(ack.segment("MSA")(1)) == "AR"
    assert str(ack.segment("MSH")(12)) == "2.5"
    assert str(ack.segment("ERR")(8)) == "not an HL7 v2 message"


def test_a_partly_readable_body_is_answered_from_what_msh_says() -> None:
    body = b"MSH|^~\\&|EPIC|HOSP|TEAMS|CONN|20240301||SIU^S14|C42|T|2.4\rSCH|\x00broken"
    ack = hl7.parse(build_ack(read_header(body), "AE", now=NOW, reason="no start time"))
    assert (str(ack.segment("MSH")(5)), str(ack.segment("MSH")(9)), str(ack.segment("MSH")(11))) == (
        "EPIC",
        "ACK^S14^ACK",
        "T",
    )
    assert str(ack.segment("MSA")(2)) == "C42"


def test_custom_separators_are_answered_in_kind() -> None:
    body = "MSH#$*!@#EPIC#HOSP#TEAMS#CONN#20240301##SIU$S12#C1#P#2.5\r"
    ack = build_ack(read_header(body), "AA", now=NOW)
    assert ack.startswith("MSH#$*!@#TEAMS#CONN#EPIC#HOSP#")
    assert "#ACK$S12$ACK#" in ack


def test_unknown_ack_code_is_refused() -> None:
    with pytest.raises(ValueError, match="ack_code"):
        build_ack(None, "OK", now=NOW)


# Field text as ER7 carries it in the standard separators: components, repetitions, subcomponents, escapes.
FIELD_TEXT = st.text(st.sampled_from("AZaz09 ^~&\\.-_#\u00e9"), max_size=12)


@given(
    st.builds(
        MessageHeader,
        field_separator=st.just("|"),
        encoding_characters=st.just("^~\\&"),
        sending_application=FIELD_TEXT,
        sending_facility=FIELD_TEXT,
        receiving_application=FIELD_TEXT,
        receiving_facility=FIELD_TEXT,
        message_time=FIELD_TEXT,
        message_type=st.sampled_from(["SIU", "ADT", ""]),
        event=st.text(st.sampled_from("S1290&\\"), max_size=4),
        control_id=FIELD_TEXT,
        processing_id=FIELD_TEXT,
        version=st.sampled_from(["2.3", "2.5.1", "2.8", ""]),
    ),
    st.one_of(st.none(), st.just("ACK-1")),
)
def test_the_direct_aa_is_what_python_hl7_makes(header: MessageHeader, control_id: str | None) -> None:
    direct = build_ack(header, "AA", now=NOW, control_id=control_id)
    made = str(parsed_ack(header, "AA", now=NOW, control_id=control_id or "ID"))
    if control_id is None:  # a fresh id each time: compare the rest
        fields = direct.split("|")
        assert len(fields[9]) == 20
        assert fields[9].isalnum()
        direct = "|".join([*fields[:9], "ID", *fields[10:]])
    assert direct == made
