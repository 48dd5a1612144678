"""The local Epic's SIU messages carry each field where HL7 v2.5.1 and the parser expect it."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import hl7
import pytest

from localworld.epic_pages import demo_visits
from localworld.epic_siu import siu_message
from shared.domain.siu import EventKind, parse_siu

NOW = dt.datetime(2026, 12, 1, 20, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("action", "event", "kind", "status"),
    [
        ("schedule", "S12", EventKind.BOOKED, "Booked"),
        ("reschedule", "S13", EventKind.RESCHEDULED, "Booked"),
        ("cancel", "S15", EventKind.CANCELLED, "Canceled"),
    ],
)
def test_each_button_sends_its_event_with_the_csn_phone_and_times(
    action: str, event: str, kind: EventKind, status: str
) -> None:
    visit = demo_visits(NOW)[0]
    raw = siu_message(visit.siu, action, now=NOW)
    message = hl7.parse(raw.decode())

    assert [str(segment[0]) for segment in message] == ["MSH", "SCH", "TQ1", "PID", "PV1", "RGS", "AIL", "AIP"]
    assert (str(message.segment("MSH")(9)), str(message.segment("MSH")(12))) == (f"SIU^{event}^SIU_S12", "2.5.1")
    schedule = message.segment("SCH")
    assert str(schedule(1)) == str(schedule(2)) == f"{visit.csn}^EPIC"
    assert str(schedule(25)) == status
    assert str(message.segment("PV1")(19)) == visit.csn
    assert str(message.segment("AIL")(12)) == str(message.segment("AIP")(12)) == status
    parsed = parse_siu(raw, local_tz=ZoneInfo("America/New_York"), phone_region="US")
    assert (parsed.kind, parsed.appointment_id, parsed.phone) == (kind, visit.csn, "+16175550123")
    assert (parsed.start, parsed.duration_minutes) == (visit.siu.start, 30)
