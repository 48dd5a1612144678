"""HL7 ACKs (original mode): `AA` once a message is safely queued, `AE`/`AR` with an ERR segment and a plain reason.

Built with python-hl7's `Message.create_ack` from the sender's MSH — or, for a body that could not
be parsed, from whatever MSH fields `read_header` could read — so the ACK echoes the sender's ids,
trigger event, processing id, version and separators. The `AA` of a message in the standard separators
(nearly every message, and the ingress's hot path) is written out directly instead: the same text, without
parsing an MSH we wrote ourselves (`tests/unit/test_ack.py` holds the two paths equal).
"""

from __future__ import annotations

from datetime import UTC, datetime

import hl7
import hl7.util

from shared.domain.hl7_message import ERROR_TEXTS, Hl7ErrorCode, MessageHeader

ACK_CODES = frozenset({"AA", "AE", "AR"})
FALLBACK_VERSION = "2.5"
"""The version an ACK claims when the message's own MSH-12 could not be read."""
STANDARD_SEPARATORS = ("|", "^~\\&")
"""MSH-1 and MSH-2 as HL7 recommends them: the separators the direct `AA` is written in."""
TIME_FORMAT = "%Y%m%d%H%M%S+0000"


def build_ack(
    header: MessageHeader | None,
    ack_code: str,
    *,
    now: datetime,
    control_id: str | None = None,
    reason: str | None = None,
    error_code: Hl7ErrorCode = Hl7ErrorCode.APPLICATION_INTERNAL_ERROR,
) -> str:
    """The ACK in ER7 (segments end with `\\r`) for the message whose MSH is `header` (None: unreadable).

    `now` becomes MSH-7 (in UTC, with its offset); `control_id` is the ACK's own MSH-10 (default: a
    fresh one from python-hl7). For `AE`/`AR`, `reason` (plain words, no patient data) goes to ERR
    and `error_code` (HL7 table 0357) names the condition: ERR-1 up to v2.4, ERR-3/4/8 from v2.5,
    and MSA-3 up to v2.6 (it was withdrawn in v2.7). Raises ValueError for an unknown `ack_code`.
    """
    if ack_code not in ACK_CODES:
        raise ValueError(f"ack_code must be one of {sorted(ACK_CODES)}")
    if ack_code == "AA" and header is not None and _separators(header) == STANDARD_SEPARATORS:
        return _accept(header, now, control_id)
    ack = parsed_ack(header, ack_code, now=now, control_id=control_id)
    version = _version(header)
    if ack_code == "AA":
        return str(ack)
    reason = reason or ERROR_TEXTS[error_code]
    msa = ack.segment("MSA")
    if version < (2, 7):
        msa.assign_field(ack.escape(reason), 3)
    err = ack.create_segment([ack.create_field(["ERR"])])
    code, text = str(int(error_code)), ERROR_TEXTS[error_code]
    if version < (2, 5):
        # ERR-1 ELD: segment ^ sequence ^ field position ^ code (CE: id & text & coding system).
        err.assign_field(code, 1, 1, 4, 1)
        err.assign_field(ack.escape(reason), 1, 1, 4, 2)
        err.assign_field("HL70357", 1, 1, 4, 3)
    else:
        err.assign_field(code, 3, 1, 1)
        err.assign_field(text, 3, 1, 2)
        err.assign_field("HL70357", 3, 1, 3)
        err.assign_field("E", 4)
        err.assign_field(ack.escape(reason), 8)
    ack.append(err)
    return str(ack)


def parsed_ack(header: MessageHeader | None, ack_code: str, *, now: datetime, control_id: str | None) -> hl7.Message:
    """MSH and MSA of the ACK, through python-hl7's `create_ack` (any separators)."""
    ack = hl7.parse(_source_msh(header)).create_ack(ack_code, message_id=control_id)
    ack.segment("MSH").assign_field(f"{now.astimezone(UTC):{TIME_FORMAT}}", 7)
    return ack


def _accept(header: MessageHeader, now: datetime, control_id: str | None) -> str:
    """The `AA` that `parsed_ack` makes of a header in the standard separators, written out: MSH-3/4 and
    MSH-5/6 swapped, MSH-9 `ACK^<event>^ACK`, MSH-11 and MSH-12 echoed, MSA-2 the message's MSH-10."""
    msh = [
        "MSH",
        header.encoding_characters,
        header.receiving_application,
        header.receiving_facility,
        header.sending_application,
        header.sending_facility,
        f"{now.astimezone(UTC):{TIME_FORMAT}}",
        "",
        f"ACK^{header.event}^ACK",
        control_id if control_id is not None else hl7.util.generate_message_control_id(),
        header.processing_id,
        header.version or FALLBACK_VERSION,
    ]
    return "|".join(msh) + f"\rMSA|AA|{header.control_id}\r"


def _separators(header: MessageHeader) -> tuple[str, str]:
    return header.field_separator, header.encoding_characters


def _source_msh(header: MessageHeader | None) -> str:
    """An MSH carrying the fields create_ack copies, in the sender's separators when they are known."""
    if header is None:
        return f"MSH|^~\\&|||||||^|||{FALLBACK_VERSION}"
    separator, component = header.field_separator, header.component_separator
    fields = [
        header.encoding_characters,
        header.sending_application,
        header.sending_facility,
        header.receiving_application,
        header.receiving_facility,
        header.message_time,
        "",
        f"{header.message_type}{component}{header.event}",
        header.control_id,
        header.processing_id,
        header.version or FALLBACK_VERSION,
    ]
    return "MSH" + separator + separator.join(fields)


def _version(header: MessageHeader | None) -> tuple[int, ...]:
    """MSH-12 as numbers, for choosing the ERR layout; unreadable versions count as the fallback."""
    text = header.version if header and header.version else FALLBACK_VERSION
    try:
        return tuple(int(part) for part in text.split("."))
    except ValueError:
        return tuple(int(part) for part in FALLBACK_VERSION.split("."))
