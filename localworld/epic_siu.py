"""The SIU messages the local Epic's interface engine sends when a visit is scheduled, moved or cancelled.

HL7 v2.5.1 chapter 10 (Scheduling), message structure SIU_S12: MSH, SCH, TQ1, PID, PV1, RGS, AIL, AIP
(https://www.hl7.eu/refactored/msgSIU_S12.html). Field choices as Epic's outbound SIU interface sends them:
SCH-1 placer and SCH-2 filler appointment id are both the visit's CSN, SCH-25 the filler status, TQ1-7/8
the start and end, PID-13 the patient's cell phone (XTN-2 `PRN`, XTN-3 `CP`, XTN-5/6/7 country, area and
local number), PV1-19 the CSN as visit number, AIL the department, AIP the provider.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

EVENTS = {
    "schedule": ("S12", "Booked", "New appointment"),
    "reschedule": ("S13", "Booked", "Rescheduled"),
    "cancel": ("S15", "Canceled", "Cancelled"),
}
"""What a button on the schedule page sends: trigger event, SCH-25 filler status, SCH-6 event reason."""


@dataclass(frozen=True)
class SiuVisit:
    csn: str
    start: dt.datetime
    minutes: int
    mrn: str
    family: str
    given: str
    birth_date: str
    phone: tuple[str, str, str]
    """Country code, area code and local number of the patient's cell phone."""
    provider_id: str
    provider_family: str
    provider_given: str
    department_id: str
    department: str


def siu_message(visit: SiuVisit, action: str, *, now: dt.datetime | None = None) -> bytes:
    """The ER7 bytes (`\\r` between segments) of `action` (schedule, reschedule, cancel) for `visit`."""
    event, status, reason = EVENTS[action]
    now = now or dt.datetime.now(dt.UTC)
    start, end = visit.start, visit.start + dt.timedelta(minutes=visit.minutes)
    country, area, local = visit.phone
    provider = f"{visit.provider_id}^{visit.provider_family}^{visit.provider_given}"
    minutes = str(visit.minutes)
    segments = [
        _segment("MSH", {3: "EPIC", 4: "LOCALHOSP", 5: "TEAMSCONNECTOR", 6: "LOCALHOSP", 7: _ts(now),
                         9: f"SIU^{event}^SIU_S12", 10: secrets.token_hex(8), 11: "T", 12: "2.5.1"}),
        _segment("SCH", {1: f"{visit.csn}^EPIC", 2: f"{visit.csn}^EPIC", 6: f"{event}^{reason}",
                         7: "VIDEO^Video visit^EPICVISITTYPE", 8: "VIDEO", 9: minutes, 10: "min", 25: status}),
        _segment("TQ1", {1: "1", 7: _ts(start), 8: _ts(end)}),
        _segment("PID", {1: "1", 3: f"{visit.mrn}^^^EPIC^MR", 5: f"{visit.family}^{visit.given}",
                         7: visit.birth_date, 8: "U", 13: f"^PRN^CP^^{country}^{area}^{local}"}),
        _segment("PV1", {1: "1", 2: "O", 3: f"{visit.department_id}^^^LOCALHOSP", 7: provider, 19: visit.csn}),
        _segment("RGS", {1: "1", 2: "A"}),
        _segment("AIL", {1: "1", 2: "A", 3: f"{visit.department_id}^^^{visit.department}", 6: _ts(start),
                         9: minutes, 10: "min", 12: status}),
        _segment("AIP", {1: "1", 2: "A", 3: provider, 6: _ts(start), 9: minutes, 10: "min", 12: status}),
    ]  # fmt: skip
    return ("\r".join(segments) + "\r").encode()


def _segment(name: str, fields: dict[int, str]) -> str:
    """One segment from its fields by HL7 number (MSH-1 and MSH-2 are the separators themselves)."""
    first = 3 if name == "MSH" else 1
    values = [fields.get(number, "") for number in range(first, max(fields) + 1)]
    return "|".join([name + ("|^~\\&" if name == "MSH" else ""), *values])


def _ts(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S+0000")
