"""Visit meetings: which visit a meeting belongs to, and the opaque id Teams knows it by.

A visit is one appointment of one FHIR endpoint; it has exactly one meeting. Teams (Graph
`createOrGet`) knows the meeting only by an `externalId` derived here by hashing, so the id stored in
Microsoft 365 reveals neither the endpoint nor the visit. Subjects never carry patient data.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

MEETING_SUBJECT = "Virtual visit"
"""Every meeting's subject: Teams shows it to everyone who joins, so it names no patient or visit."""


@dataclass(frozen=True)
class VisitKey:
    """One visit of one endpoint: `visit_id` is Epic's sessionId (CSN or conference id), else the appointment id."""

    endpoint_id: str
    visit_id: str

    def __post_init__(self) -> None:
        if not self.endpoint_id or not self.visit_id:
            raise ValueError("A visit needs an endpoint id and a visit id.")

    @property
    def external_id(self) -> str:
        """The stable, opaque id Graph's createOrGet deduplicates on (hex SHA-256, 64 characters)."""
        material = f"teams-ehr-connector/visit\n{self.endpoint_id}\n{self.visit_id}".encode()
        return hashlib.sha256(material).hexdigest()


@dataclass(frozen=True)
class Meeting:
    """A visit's meeting: the provider's id for it and the URL that joins it."""

    id: str
    join_url: str


@dataclass(frozen=True)
class MeetingOptions:
    """How a visit meeting is set up. Fixed: the organisation's people bypass the lobby and patients
    (anonymous guests) wait there to be admitted; only the organisation's people can present. Per endpoint:
    whether Teams announces people joining and leaving (the announcement speaks their names)."""

    announce_entry_exit: bool = False


@dataclass(frozen=True)
class CallSubscription:
    """A change-notification subscription to one meeting's call events: the provider's id and its expiry."""

    id: str
    expires_at: datetime
