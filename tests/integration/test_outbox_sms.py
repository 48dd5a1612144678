"""The local outbox sender: one JSON line per SMS, the recipient masked, the text in full."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared import bootstrap
from shared.adapters.acs_sms import AcsSmsSender
from shared.adapters.outbox_sms import OutboxSmsSender
from shared.domain.sms import OutboundSms
from shared.errors import UpstreamError


def sms(job_id: str, text: str = "Contoso: your visit... https://x/api/join/tok") -> OutboundSms:
    return OutboundSms(job_id=job_id, from_number="+18005550100", to_number="+12605551234", text=text)


def test_each_sms_is_one_json_line(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox" / "sms.jsonl"
    sender = OutboxSmsSender(outbox)
    first = sender.send(sms("job-1"))
    sender.send(sms("job-2", "Clínica: cancelled"))
    lines = [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines()]
    assert (first.accepted, first.message_id) == (True, "outbox-job-1")
    assert [line["job_id"] for line in lines] == ["job-1", "job-2"]
    assert lines[0]["to"] == "+*********34"
    assert lines[0]["from"] == "+18005550100"
    assert lines[0]["text"] == "Contoso: your visit... https://x/api/join/tok"
    assert (lines[0]["encoding"], lines[1]["encoding"]) == ("GSM-7", "UCS-2")
    assert "2605551234" not in outbox.read_text(encoding="utf-8")


def test_an_unwritable_outbox_is_a_retryable_failure(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UpstreamError) as raised:
        OutboxSmsSender(blocker / "sms.jsonl").send(sms("job-3"))
    assert raised.value.retryable


def test_bootstrap_picks_the_sender_from_sms_provider(
    app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SMS_OUTBOX_PATH", str(tmp_path / "sms.jsonl"))
    monkeypatch.delenv("SMS_PROVIDER", raising=False)
    monkeypatch.delenv("ACS_CONNECTION_STRING", raising=False)
    monkeypatch.delenv("ACS_ENDPOINT", raising=False)
    bootstrap.reset()
    sender = bootstrap.get_sms_sender()
    assert isinstance(sender, OutboxSmsSender)
    assert sender.path == tmp_path / "sms.jsonl"
    monkeypatch.setenv("ACS_CONNECTION_STRING", "endpoint=https://acs.example.org/;accesskey=a2V5")
    bootstrap.reset()
    assert isinstance(bootstrap.get_sms_sender(), AcsSmsSender)
    monkeypatch.setenv("SMS_PROVIDER", "outbox")
    bootstrap.reset()
    assert isinstance(bootstrap.get_sms_sender(), OutboxSmsSender)
