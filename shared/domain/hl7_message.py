"""One HL7 v2 message in ER7: unframe and decode the body, read its MSH header, parse it with python-hl7.

Everything a caller needs to answer a message — even one that cannot be parsed — starts here: the
lenient `read_header` reads MSH by plain splitting so an ACK can still echo the sender's ids, while
`parse_message` hands the whole message to python-hl7. Failures raise `Hl7MessageError`, which
carries what the ACK needs (the header if readable, the HL7 table 0357 error code) and a reason that
names fields, never their values (they may be patient data).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from enum import IntEnum

import hl7
import hl7.util

from shared.errors import InvalidMessageError

# python-hl7 logs field contents (patient data) when it meets a bad escape sequence, under a logger
# named after its file; we read such fields as best we can and never log their contents.
logging.getLogger(hl7.util.__file__).disabled = True

MLLP_START = "\x0b"
MLLP_END = "\x1c"
HL7_NULL = '""'
"""HL7's explicit null ("delete this value"); for reading it means: no value."""


class Hl7ErrorCode(IntEnum):
    """HL7 table 0357, message error condition codes: the ones we send back in ERR."""

    SEGMENT_SEQUENCE_ERROR = 100
    REQUIRED_FIELD_MISSING = 101
    DATA_TYPE_ERROR = 102
    UNSUPPORTED_MESSAGE_TYPE = 200
    UNSUPPORTED_EVENT_CODE = 201
    UNSUPPORTED_VERSION_ID = 203
    UNKNOWN_KEY_IDENTIFIER = 204
    APPLICATION_RECORD_LOCKED = 206
    APPLICATION_INTERNAL_ERROR = 207


ERROR_TEXTS: dict[Hl7ErrorCode, str] = {
    Hl7ErrorCode.SEGMENT_SEQUENCE_ERROR: "Segment sequence error",
    Hl7ErrorCode.REQUIRED_FIELD_MISSING: "Required field missing",
    Hl7ErrorCode.DATA_TYPE_ERROR: "Data type error",
    Hl7ErrorCode.UNSUPPORTED_MESSAGE_TYPE: "Unsupported message type",
    Hl7ErrorCode.UNSUPPORTED_EVENT_CODE: "Unsupported event code",
    Hl7ErrorCode.UNSUPPORTED_VERSION_ID: "Unsupported version id",
    Hl7ErrorCode.UNKNOWN_KEY_IDENTIFIER: "Unknown key identifier",
    Hl7ErrorCode.APPLICATION_RECORD_LOCKED: "Application record locked",
    Hl7ErrorCode.APPLICATION_INTERNAL_ERROR: "Application internal error",
}


@dataclass(frozen=True)
class MessageHeader:
    """What MSH says, as raw ER7 field text in the sender's own separators (so an ACK can echo it exactly).

    `sending_application` + `sending_facility` identify the sender; `control_id` (MSH-10) is unique
    per sender, which makes the pair the message's idempotency key.
    """

    field_separator: str
    encoding_characters: str
    sending_application: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str
    message_time: str
    message_type: str
    event: str
    control_id: str
    processing_id: str
    version: str

    @property
    def component_separator(self) -> str:
        return self.encoding_characters[:1] or "^"


class Hl7MessageError(InvalidMessageError):
    """An HL7 message we can never accept as sent: answered `AR` (do not resend it unchanged), with
    `error_code` (HL7 table 0357) naming the condition and the message naming the field.

    `header` is what MSH said (None when not even MSH could be read). Sending the same message again
    cannot help, whether it is not HL7 at all or its content is wrong, so there is no `AE` here: `AE`
    is kept for our own trouble, when the sender should try again.
    """

    code = "invalid_hl7_message"

    def __init__(
        self,
        message: str,
        *,
        header: MessageHeader | None = None,
        error_code: Hl7ErrorCode = Hl7ErrorCode.REQUIRED_FIELD_MISSING,
    ) -> None:
        super().__init__(message)
        self.header = header
        self.error_code = error_code


def unframe(body: bytes | str) -> str:
    """The ER7 text of `body`: MLLP frame removed, decoded, segments separated by `\\r` only.

    Bytes are decoded as UTF-8, or as ISO 8859-1 when they are not valid UTF-8 (older feeds; every
    byte decodes, and the ASCII that HL7 structure uses is the same in both). `\\n` and `\\r\\n`
    become `\\r`. Raises Hl7MessageError when nothing is left.
    """
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = body.decode("latin-1")
    else:
        text = body
    text = text.lstrip("\ufeff \t\r\n")
    text = text.removeprefix(MLLP_START)
    end = text.find(MLLP_END)
    if end >= 0:
        text = text[:end]
    text = text.replace("\r\n", "\r").replace("\n", "\r").strip(" \t\r")
    if not text:
        raise Hl7MessageError("not an HL7 v2 message: the body is empty")
    return text


def segments_of(text: str) -> list[str]:
    """The segments of one message, batch envelope (FHS/BHS/BTS/FTS) and blank lines dropped.

    Raises Hl7MessageError unless exactly one MSH starts the rest.
    """
    segments = [s for s in text.split("\r") if s.strip() and s[:3] not in ("FHS", "BHS", "BTS", "FTS")]
    if not segments or not segments[0].startswith("MSH"):
        raise Hl7MessageError("not an HL7 v2 message: no MSH segment at the start")
    if sum(1 for s in segments if s.startswith("MSH")) > 1:
        raise Hl7MessageError(
            "the body holds more than one message: send one message per request",
            header=_header_of(segments[0]),
            error_code=Hl7ErrorCode.SEGMENT_SEQUENCE_ERROR,
        )
    return segments


def read_header(body: bytes | str) -> MessageHeader | None:
    """MSH of `body` by plain splitting, or None when there is no readable MSH: for ACKs of anything."""
    try:
        return _header_of(segments_of(unframe(body))[0])
    except Hl7MessageError as exc:
        return exc.header


def _header_of(msh: str) -> MessageHeader | None:
    if len(msh) < 8:
        return None
    separator, rest = msh[3], msh[4:]
    encoding, _, _ = rest.partition(separator)
    if not _separators_valid(separator, encoding):
        return None
    fields = msh.split(separator)  # fields[n - 1] is MSH-n for n >= 2

    def field(number: int) -> str:
        value = fields[number - 1] if number - 1 < len(fields) else ""
        return "" if value == HL7_NULL else value

    component = encoding[0]
    repetition = encoding[1] if len(encoding) > 1 else "~"
    message_type = field(9).split(repetition)[0].split(component)
    return MessageHeader(
        field_separator=separator,
        encoding_characters=encoding,
        sending_application=field(3),
        sending_facility=field(4),
        receiving_application=field(5),
        receiving_facility=field(6),
        message_time=field(7).split(component)[0],
        message_type=message_type[0].strip().upper(),
        event=(message_type[1] if len(message_type) > 1 else "").strip().upper(),
        control_id=field(10).strip(),
        processing_id=field(11).split(component)[0],
        version=field(12).split(repetition)[0].split(component)[0].strip(),
    )


def _separators_valid(separator: str, encoding: str) -> bool:
    """MSH-1 and MSH-2 as HL7 defines them: 4 encoding characters (5 from v2.7), all distinct and printable."""
    characters = separator + encoding
    return (
        len(encoding) in (4, 5)
        and len(set(characters)) == len(characters)
        and all(c.isprintable() and not c.isalnum() and not c.isspace() for c in characters)
    )


def parse_message(body: bytes | str) -> tuple[MessageHeader, hl7.Message]:
    """The header and python-hl7's parse of `body` (one message, see `unframe`).

    Raises Hl7MessageError (AR) when the body is not a readable HL7 v2 message, with the header
    when MSH could be read.
    """
    segments = segments_of(unframe(body))
    header = _header_of(segments[0])
    if header is None:
        raise Hl7MessageError("MSH-1/MSH-2 separators are missing or malformed")
    if not re.fullmatch(r"2\.\d(\.\d+)?", header.version):
        # Versions 2.1 to 2.9 share the fields we read; anything else is not HL7 v2 as we know it.
        raise Hl7MessageError(
            "MSH-12 version is missing or not an HL7 v2 version",
            header=header,
            error_code=Hl7ErrorCode.UNSUPPORTED_VERSION_ID,
        )
    try:
        message = hl7.parse("\r".join(segments))
    except (hl7.ParseException, KeyError, IndexError, ValueError, AssertionError) as exc:
        raise Hl7MessageError(
            "the message cannot be parsed as HL7 v2 ER7",
            header=header,
            error_code=Hl7ErrorCode.SEGMENT_SEQUENCE_ERROR,
        ) from exc
    return header, message


def segments_named(message: hl7.Message, name: str) -> list[hl7.Segment]:
    """Every segment called `name`, in order (python-hl7 raises KeyError for none; we say [])."""
    return [segment for segment in message if str(segment[0]) == name]


def value(segment: hl7.Segment, field: int, repetition: int = 1, component: int = 1, sub: int = 1) -> str:
    """One unescaped, stripped leaf value; "" when absent, shorter than asked, or the HL7 null."""
    try:
        text = segment.extract_field(1, field, repetition, component, sub)
    except (IndexError, KeyError, TypeError):
        return ""
    text = str(text).strip()
    return "" if text == HL7_NULL else text


def repetitions(segment: hl7.Segment, field: int) -> int:
    """How many repetitions field `field` of `segment` holds (0 when the field is absent)."""
    if field >= len(segment):
        return 0
    return len(segment(field))


_DTM = re.compile(
    r"(?P<year>\d{4})(?P<month>\d{2})?(?P<day>\d{2})?(?P<hour>\d{2})?(?P<minute>\d{2})?(?P<second>\d{2})?"
    r"(?:\.(?P<fraction>\d{1,4}))?(?P<offset>[+-]\d{4})?"
)


def parse_time(text: str, local_tz: tzinfo, *, minimum: str = "minute") -> datetime | None:
    """An HL7 DTM/TS value as an aware datetime, or None when empty, malformed or less precise than `minimum`.

    With an offset (`+0215`) the offset is kept; without, the time is read in `local_tz` (the
    endpoint's zone). `minimum` is "day" or "minute". python-hl7's `parse_datetime` accepts
    trailing garbage and turns `-0030` into `+0030`, hence this reader.
    """
    match = _DTM.fullmatch(text.strip())
    if not match or not match["day"] or (minimum == "minute" and not match["minute"]):
        return None
    fraction = match["fraction"] or ""
    try:
        naive = datetime(
            int(match["year"]),
            int(match["month"]),
            int(match["day"]),
            int(match["hour"] or 0),
            int(match["minute"] or 0),
            int(match["second"] or 0),
            int(fraction.ljust(6, "0")) if fraction else 0,
        )
    except ValueError:
        return None
    offset = match["offset"]
    if not offset:
        return naive.replace(tzinfo=local_tz)
    hours, minutes = int(offset[1:3]), int(offset[3:5])
    if hours > 14 or minutes > 59:
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return naive.replace(tzinfo=timezone(-delta if offset[0] == "-" else delta))
