"""The project's own Epic-shaped samples (tests/hl7/) read as the connector reads them, in HL7 2.3, 2.5.1 and 2.8."""

from __future__ import annotations

import hl7
import pytest

from shared.domain.ack import build_ack
from shared.domain.hl7_message import Hl7ErrorCode, Hl7MessageError, read_header
from shared.domain.siu import PhoneIssue, parse_siu
from tests.samples import BATCH, BATCH_EXPECTED, EXPECTED, Expected, batch_messages, sample, sample_files
from tests.samples import EVENTS as SIU_EVENTS


def check(body: bytes, expected: Expected) -> None:
    parsed = parse_siu(body, local_tz=expected.zone, phone_region="US")
    assert (parsed.header.version, parsed.event, parsed.kind) == (expected.version, expected.event, expected.kind)
    assert (parsed.control_id, parsed.appointment_id) == (expected.control_id, expected.appointment_id)
    assert parsed.placer_id == parsed.filler_id == expected.appointment_id  # Epic: the CSN in SCH-1 and SCH-2
    assert parsed.start is not None
    assert parsed.start.isoformat() == expected.start
    assert parsed.duration_minutes == expected.minutes
    assert parsed.status == expected.status
    if isinstance(expected.phone, PhoneIssue):
        assert (parsed.phone, parsed.phone_issue) == (None, expected.phone)
    else:
        assert (parsed.phone, parsed.phone_issue) == (expected.phone, None)


def test_every_sample_has_an_expectation_and_every_event_each_version() -> None:
    assert {path.name for path in sample_files()} == set(EXPECTED) | {BATCH}
    shapes = {(expected.version, expected.event) for expected in EXPECTED.values()}
    assert shapes == {(version, event) for version in ("2.3", "2.5.1", "2.8") for event in SIU_EVENTS}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample(name: str) -> None:
    check(sample(name), EXPECTED[name])


def test_the_batch_is_refused_whole_and_each_of_its_messages_is_read() -> None:
    with pytest.raises(Hl7MessageError, match="more than one message") as raised:
        parse_siu(sample(BATCH), local_tz=EXPECTED[BATCH.replace("batch_", "")].zone, phone_region="US")
    assert raised.value.error_code is Hl7ErrorCode.SEGMENT_SEQUENCE_ERROR
    messages = batch_messages(sample(BATCH))
    assert len(messages) == len(BATCH_EXPECTED)
    for body, expected in zip(messages, BATCH_EXPECTED, strict=True):
        check(body, expected)


def test_utf8_names_and_escapes_survive_as_sent() -> None:
    v251 = hl7.parse(sample("epic_v251_s12.hl7").decode("utf-8"))
    assert str(v251.segment("PID")(5)) == "NÚÑEZ^JOSÉ^ÁLVARO"
    v28 = hl7.parse(sample("epic_v28_s12.hl7").decode("utf-8"))
    assert str(v28.segment("PID")(5)) == "李^伟~LI^WEI"
    v23 = hl7.parse(sample("epic_v23_s12.hl7").decode("utf-8"))
    note = v23.unescape(str(v23.segment("NTE")(3)))
    assert "medication list & glucose log" in note
    assert "|front desk|" in note
    assert "late ^ 10 min" in note


@pytest.mark.parametrize("name", ["epic_v23_s12.hl7", "epic_v251_s15.hl7", "epic_v28_s26.hl7"])
def test_acks_echo_each_version(name: str) -> None:
    header = read_header(sample(name))
    assert header is not None
    ack = hl7.parse(
        build_ack(
            header, "AA", now=parse_siu(sample(name), local_tz=EXPECTED[name].zone, phone_region="US").message_time
        )
    )
    assert str(ack.segment("MSH")(12)) == EXPECTED[name].version
    assert str(ack.segment("MSA")) == f"MSA|AA|{EXPECTED[name].control_id}"
