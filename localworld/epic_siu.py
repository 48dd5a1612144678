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

EVENTS = {"schedule": ("S12", "Booked"), "reschedule": ("S13", "Booked"), "cancel": ("S15", "Canceled")}
"""What a button on the schedule page sends: trigger event and SCH-25 filler status."""


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
    event, status = EVENTS[action]
    now = now or dt.datetime.now(dt.UTC)
    start, end = visit.start, visit.start + dt.timedelta(minutes=visit.minutes)
    country, area, local = visit.phone
    provider = f"{visit.provider_id}^{visit.provider_family}^{visit.provider_given}"
    segments = [
        f"MSH|^~\\&|EPIC|LOCALHOSP|TEAMSCONNECTOR|LOCALHOSP|{_ts(now)}||SIU^{event}^SIU_S12|{secrets.token_hex(8)}"
        "|T|2.5.1",
        f"SCH|{visit.csn}^EPIC|{visit.csn}^EPIC|||||VIDEO^Video visit^EPICVISITTYPE|VIDEO|{visit.minutes}|min|"
        f"|||||||||||||{status}",
        f"TQ1|1||||||{_ts(start)}|{_ts(end)}",
        f"PID|1||{visit.mrn}^^^EPIC^MR||{visit.family}^{visit.given}||{visit.birth_date}|U|||"
        f"||^PRN^CP^^{country}^{area}^{local}",
        f"PV1|1|O|{visit.department_id}^^^LOCALHOSP||||{provider}|||||||||||{visit.csn}",
        "RGS|1|A",
        f"AIL|1|A|{visit.department_id}^^^{visit.department}||||{_ts(start)}|||{visit.minutes}|min||{status}",
        f"AIP|1|A|{provider}|||{_ts(start)}|||{visit.minutes}|min||{status}",
    ]
    return ("\r".join(segments) + "\r").encode()


def _ts(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S+0000")
