"""`python -m shared.hl7v2 parse`: JSON Lines per file, masked phones, exit status 1 on any failure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from shared.hl7v2.__main__ import main
from tests.corpus import REPO_ROOT
from tests.samples import SAMPLES


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict]]:
    status = main(["parse", *args])
    return status, [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_a_scheduling_message_is_printed_with_its_phone_masked(capsys: pytest.CaptureFixture[str]) -> None:
    status, [record] = run(capsys, "--tz", "America/New_York", str(SAMPLES / "epic_v23_s12.hl7"))
    assert status == 0
    assert record["ok"] is True
    assert (record["event"], record["control_id"], record["appointment_id"]) == ("S12", "R23S12001", "400012301")
    assert (record["placer_id"], record["filler_id"]) == ("400012301", "400012301")
    assert record["start"] == "2025-03-18T09:30:00-04:00"
    assert record["message_time"] == "2025-02-10T08:15:00-05:00"
    assert (record["duration_minutes"], record["status"]) == (30, "Booked")
    assert record["phone"] == "+*********43"


def test_show_phone_and_region(capsys: pytest.CaptureFixture[str]) -> None:
    _, [us] = run(capsys, "--show-phone", str(SAMPLES / "epic_v23_s12.hl7"))
    _, [gb] = run(capsys, "--show-phone", "--region", "GB", "--tz", "Europe/London", str(SAMPLES / "epic_v23_s12.hl7"))
    assert (us["phone"], us["phone_issue"]) == ("+16175550143", None)
    assert (gb["phone"], gb["phone_issue"]) == (None, "invalid_phone")  # (617) 555-0143 is no UK number
    assert gb["start"] == "2025-03-18T09:30:00+00:00"


def test_non_siu_and_broken_files_fail_with_a_reason(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    broken = tmp_path / "broken.hl7"
    broken.write_bytes(b"MSH|^~\\&|A|B|C|D|20240301||SIU^S12|X1|P|2.5\rPID|1\r")
    adt = tmp_path / "adt.hl7"
    adt.write_bytes(b"MSH|^~\\&|EPIC|RIVERSIDE|||20250301||ADT^A04|A1|P|2.5.1\rPID|1||E1^^^EPI^MR\r")
    ok = SAMPLES / "epic_v28_s17.hl7"
    status, records = run(capsys, str(ok), str(adt), str(broken), str(tmp_path / "none"))
    assert status == 1
    assert [record["ok"] for record in records] == [True, False, False, False]
    assert records[1]["error"] == "not a scheduling message (ADT)"
    assert (records[2]["error"], records[2]["control_id"]) == ("SCH segment missing", "X1")
    assert records[3]["error"].startswith("cannot read the file")


def test_it_runs_as_a_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "shared.hl7v2", "parse", str(SAMPLES / "epic_v23_s26.hl7")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert json.loads(result.stdout)["start"] == "2025-03-20T14:00:00+00:00"  # --tz defaults to UTC
