"""Fuzzing: whatever arrives, parsing either succeeds or raises Hl7MessageError with a reason, and ACKs can be built."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.domain.ack import build_ack
from shared.domain.hl7_message import Hl7MessageError, read_header
from shared.domain.siu import EventKind, parse_siu
from tests.corpus import corpus_files
from tests.samples import sample_files

NOW = datetime(2024, 1, 1, tzinfo=UTC)
ZONE = ZoneInfo("America/New_York")
HL7_TOKENS = st.sampled_from([*'|^~\\&\r\n\x0b\x1c"#0123456789+-.MSHCPIDTQ1A ', "SCH|", "PID|", "TQ1|", "\\X0A\\"])


def check(body: bytes | str) -> None:
    """The property: a valid event, or our error with a reason and an error code; an ACK can always be built."""
    try:
        event = parse_siu(body, local_tz=ZONE, phone_region="US")
    except Hl7MessageError as exc:
        error = exc
    else:
        error = None
    if error is not None:
        assert error.message
        build_ack(error.header, "AR", now=NOW, reason=error.message, error_code=error.error_code)
        return
    if event.kind is not EventKind.IGNORED:
        assert event.appointment_id
        assert event.start is not None
        assert event.start.tzinfo is not None
        assert event.phone is None or event.phone.startswith("+")
    assert event.message_time.tzinfo is not None
    build_ack(event.header, "AA", now=NOW)
    build_ack(read_header(body), "AE", now=NOW, reason="fuzz")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_arbitrary_bytes(body: bytes) -> None:
    check(body)
    check(b"MSH|^~\\&|" + body)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(HL7_TOKENS, max_size=120).map("".join))
def test_hl7_looking_text(text: str) -> None:
    check(text)
    check("MSH|^~\\&|A|B|C|D|20240101||SIU^S12|1|P|2.5\r" + text)


CUTS = st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 40), st.binary(max_size=12)), max_size=6)


def mutated(message: bytes, cuts: list[tuple[int, int, bytes]]) -> bytes:
    body = bytearray(message)
    for position, length, insert in cuts:
        position %= max(len(body), 1)
        body[position : position + length] = insert
    return bytes(body)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(message=st.sampled_from([path.read_bytes() for path in sample_files()]), cuts=CUTS)
def test_mutated_sample_messages(message: bytes, cuts: list[tuple[int, int, bytes]]) -> None:
    check(mutated(message, cuts))


def test_mutated_corpus_messages() -> None:
    siu_corpus = [body for path in corpus_files() if b"SIU^" in (body := path.read_bytes())[:200]]

    @settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
    @given(message=st.sampled_from(siu_corpus), cuts=CUTS)
    def mutate(message: bytes, cuts: list[tuple[int, int, bytes]]) -> None:
        check(mutated(message, cuts))

    mutate()
