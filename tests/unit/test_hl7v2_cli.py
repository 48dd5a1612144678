"""`python -m shared.hl7v2 parse`: JSON Lines per file, masked phones, exit status 1 on any failure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from shared.hl7v2.__main__ import main
from tests.corpus import CORPUS, REPO_ROOT, corpus_files


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict]]:
    status = main(["parse", *args])
    return status, [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_a_scheduling_message_is_printed_with_its_phone_masked(capsys: pytest.CaptureFixture[str]) -> None:
    corpus_files()
    status, [record] = run(capsys, "--tz", "America/New_York", str(CORPUS / "16_mamori_mesa_op_siu_s12.hl7"))
    assert status == 0
    assert record["ok"] is True
    assert (record["event"], record["control_id"], record["appointment_id"]) == ("S12", "24916560", "2196178")
    assert (record["placer_id"], record["filler_id"]) == ("10345", "2196178")
    assert record["start"] == "2011-06-17T08:45:00-04:00"
    assert record["message_time"] == "2011-06-13T06:16:11-04:00"
    assert (record["duration_minutes"], record["status"]) == (45, "Scheduled")
    assert record["phone"] == "+*********34"


def test_show_phone_and_region(capsys: pytest.CaptureFixture[str]) -> None:
    corpus_files()
    _, [us] = run(capsys, "--show-phone", str(CORPUS / "04_renalware_blt_siu_s15.hl7"))
    _, [gb] = run(
        capsys, "--show-phone", "--region", "GB", "--tz", "Europe/London", str(CORPUS / "04_renalware_blt_siu_s15.hl7")
    )
    assert (us["phone"], us["phone_issue"]) == (None, "invalid_phone")
    assert gb["phone"] == "+447898989898"
    assert gb["start"] == "2024-11-13T10:00:00+00:00"


def test_non_siu_and_broken_files_fail_with_a_reason(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    corpus_files()
    broken = tmp_path / "broken.hl7"
    broken.write_bytes(b"MSH|^~\\&|A|B|C|D|20240301||SIU^S12|X1|P|2.5\rPID|1\r")
    ok = CORPUS / "31_initech_siu_s17_tq1.hl7"
    status, records = run(
        capsys, str(ok), str(CORPUS / "29_webchart_out_adt_a04.hl7"), str(broken), str(tmp_path / "none")
    )
    assert status == 1
    assert [record["ok"] for record in records] == [True, False, False, False]
    assert records[1]["error"] == "not a scheduling message (ADT)"
    assert (records[2]["error"], records[2]["control_id"]) == ("SCH segment missing", "X1")
    assert records[3]["error"].startswith("cannot read the file")


def test_it_runs_as_a_module() -> None:
    corpus_files()
    result = subprocess.run(
        [sys.executable, "-m", "shared.hl7v2", "parse", str(CORPUS / "28_webchart_in_siu_s12_v23.hl7")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert json.loads(result.stdout)["start"] == "2011-06-17T08:45:00+00:00"  # --tz defaults to UTC
