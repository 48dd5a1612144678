"""Every log line while parsing the samples (and the corpus, when present) and sending SMS: no phone number, no name."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from localworld.acs_sms import AcsSmsStandIn, accepted, recipient_failed
from localworld.server import Response
from shared.adapters.acs_sms import AcsSmsSender
from shared.adapters.outbox_sms import OutboxSmsSender
from shared.domain.hl7_message import Hl7MessageError, unframe
from shared.domain.siu import parse_siu
from shared.domain.sms import OutboundSms
from shared.errors import UpstreamError
from shared.hl7v2.__main__ import main as hl7v2_main
from shared.settings import AcsConnection
from tests.corpus import CORPUS
from tests.samples import sample_files

BAD_ESCAPES = (
    "MSH|^~\\&|EPIC|H|C|D|20240301||SIU^S12|9|P|2.5\r"
    "SCH|A\\X0\\|F\\Zq\\|||||||||^^^202403011200\rPID|1||MRN||ZEBEDEE\\Q\\^QUINTUS||||||||(312)555-0143\\C2842\\^PRN^CP\r"
)


def phone_digits(paths: list[Path]) -> set[str]:
    """The last 7 digits of every number in PID-13/14/40 of the messages (patterns like 0000000 aside)."""
    numbers: set[str] = set()
    for path in paths:
        for segment in unframe(path.read_bytes()).split("\r"):
            if segment.startswith("PID|"):
                fields = segment.split("|")
                for field in [*fields[13:15], *fields[40:41]]:
                    for digits in re.findall(r"\d[\d()\s.-]{5,}\d", field):
                        only = re.sub(r"\D", "", digits)
                        if len(set(only)) >= 3:
                            numbers.add(only[-7:])
    return numbers


def patient_names(paths: list[Path]) -> set[str]:
    names: set[str] = set()
    for path in paths:
        for segment in unframe(path.read_bytes()).split("\r"):
            if segment.startswith("PID|") and len(segment.split("|")) > 5:
                for part in re.split(r"[\^&~]", segment.split("|")[5]):
                    if len(part) >= 4 and part.isalpha() and part.upper() not in {"TEST", "CURRENT"}:
                        names.add(part)
    return names


def test_logs_hold_no_phone_number_and_no_name(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, every level
    paths = sample_files() + sorted(CORPUS.glob("*.hl7"))  # the corpus too, when it is beside the repository
    numbers = phone_digits(paths) | {"3125550143"[-7:]}
    names = patient_names(paths) | {"ZEBEDEE", "QUINTUS"}
    assert len(numbers) >= 10
    assert len(names) >= 10

    found_phones: list[str] = []
    bodies = [path.read_bytes() for path in paths] + [BAD_ESCAPES.encode()]
    for body in bodies:
        for region in ("US", "GB", "FR"):
            try:
                event = parse_siu(body, local_tz=ZoneInfo("Europe/London"), phone_region=region)
            except Hl7MessageError:
                continue
            if event.phone:
                found_phones.append(event.phone)
    assert found_phones

    hl7v2_main(["parse", "--show-phone", *map(str, paths)])  # to stdout, which is not a log
    with AcsSmsStandIn(
        [accepted(), recipient_failed(400, "Invalid To phone number +447898989898"), Response.json({}, 429)]
    ) as acs:
        connection = AcsConnection(endpoint=f"{acs.url}/", connection_string=acs.connection_string())
        senders = [AcsSmsSender(connection, connection_verify=acs.ca_file), OutboxSmsSender(tmp_path / "sms.jsonl")]
        for sender in senders:
            for index, phone in enumerate(found_phones):
                try:
                    sender.send(OutboundSms(f"job-{index}", "+18005550100", phone, "Contoso: your visit"))
                except UpstreamError:  # throttled on purpose: only the logs matter here
                    continue

    text = "\n".join(f"{record.name} {record.getMessage()} {record.exc_text or ''}" for record in caplog.records)
    assert caplog.records, "nothing was logged: the test would prove nothing"
    digits_per_line = ["".join(re.findall(r"\d", line)) for line in text.splitlines()]
    for number in numbers | {phone[-7:] for phone in found_phones}:
        assert not any(number in line for line in digits_per_line), "a phone number reached the logs"
    for name in names:
        assert name not in text, "a patient name reached the logs"
