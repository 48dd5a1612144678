"""Patient join from the SMS link: token -> visit -> the visit's meeting, when the link says it works.

The link opens the meeting from the endpoint's `join_opens_minutes` before the start until the end plus the
grace. Earlier it answers a waiting room (the visit time, a countdown, the device test); after the visit, and
for a while after the purge, that the visit is over and whom to contact. Unknown and cancelled tokens are one
outcome (`JoinLinkInvalidError`) reached with the same work (two point reads), so the answer never tells
whether such a token ever existed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from shared.adapters.storage import Storage
from shared.adapters.visit_log import VisitLog
from shared.domain import context_token
from shared.domain.config import Endpoint, Organisation
from shared.domain.integration_records import DEVICE_TEST_PATH, DEVICE_TEST_PURPOSE
from shared.domain.join_tokens import JOIN_GRACE_AFTER_END, JOINABLE_STATUS, JoinTarget, JoinWindow
from shared.domain.meetings import Meeting
from shared.domain.sms_templates import visit_time_text
from shared.errors import ConnectorError, JoinLinkInvalidError
from shared.services.ehr_write_back import note_patient_waiting
from shared.services.meetings import MeetingService, get_or_create_meeting

logger = logging.getLogger(__name__)

PAGE_LANGUAGE = "en"
"""The join pages are in English (the SMS is in the patient's language; the pages are not yet)."""


class JoinTokens(Protocol):
    """Finds the visit a join token opens; None when there is no such token."""

    def find(self, token: str) -> JoinTarget | None: ...

    def find_ended(self, token: str) -> str | None: ...


class Directory(Protocol):
    def get_endpoint(self, endpoint_id: str) -> Endpoint: ...

    def get_organisation(self, org_id: str) -> Organisation: ...


@dataclass(frozen=True)
class WaitingRoom:
    """Too early: the meeting opens at `opens_at`; the page shows when the visit is and counts down."""

    organisation: str
    visit_time: str
    starts_at: datetime
    opens_at: datetime
    device_test_url: str | None
    """The device test for this endpoint, valid as long as the link; None when no context-token key is set."""


@dataclass(frozen=True)
class VisitOver:
    """The visit has taken place (or its link was purged): whom to contact instead."""

    organisation: str


JoinAnswer = Meeting | WaitingRoom | VisitOver


def join_visit(
    tokens: JoinTokens,
    storage: Storage,
    meetings: MeetingService,
    directory: Directory,
    token: str,
    now: datetime,
    *,
    visits: VisitLog,
    region: str,
    device_test_secret: bytes | None = None,
) -> JoinAnswer:
    """Where the patient's link takes them now: the meeting (created if the visit has none yet; the visit log
    counts the patient's join, and the EHR hears that the patient waits), the waiting room, or the page that
    the visit is over.

    Raises JoinLinkInvalidError, MeetingNotOpenedError (no meeting yet, organiser unknown), UpstreamError.
    """
    target = tokens.find(token)
    if target is None or target.status != JOINABLE_STATUS:
        ended = tokens.find_ended(token)  # read for a cancelled visit's token too: the same work as unknown
        if target is not None or ended is None:
            raise JoinLinkInvalidError("This link is not valid.")
        return VisitOver(_organisation_of(directory, directory.get_endpoint(ended)))
    endpoint = directory.get_endpoint(target.endpoint_id)
    window = target.window(now, timedelta(minutes=endpoint.sms.join_opens_minutes))
    if window is JoinWindow.OVER:
        return VisitOver(_organisation_of(directory, endpoint))
    if window is JoinWindow.EARLY:
        return WaitingRoom(
            organisation=_organisation_of(directory, endpoint),
            visit_time=visit_time_text(PAGE_LANGUAGE, target.start, ZoneInfo(endpoint.time_zone), region),
            starts_at=target.start,
            opens_at=target.start - timedelta(minutes=endpoint.sms.join_opens_minutes),
            device_test_url=_device_test_url(endpoint.id, target.end + JOIN_GRACE_AFTER_END, device_test_secret),
        )
    logger.info("Join link accepted for endpoint %s", target.endpoint_id)
    meeting = get_or_create_meeting(
        storage,
        meetings,
        directory,
        endpoint_id=target.endpoint_id,
        geo=target.geo,
        visit_id=target.visit_id,
        start=target.start,
        end=target.end,
        organizer_user_id=target.organizer_user_id,
    )
    _record_join(visits, target, now)
    account = storage.for_geo(target.geo)
    note_patient_waiting(directory, account, target.geo, target.endpoint_id, target.visit_id, now)
    return meeting


def _record_join(visits: VisitLog, target: JoinTarget, now: datetime) -> None:
    """The patient came through the link: "clinician is ready" no longer texts them. Never raises (reports
    matter less than a patient on their way in)."""
    try:
        visits.record_launch(
            target.geo,
            endpoint_id=target.endpoint_id,
            visit_id=target.visit_id,
            scheduled_start=target.start,
            role="patient",
            department=None,
            at=now,
        )
    except ConnectorError as error:
        logger.warning("Visit log not updated for endpoint %s: %s", target.endpoint_id, error.code)


def _device_test_url(endpoint_id: str, until: datetime, secret: bytes | None) -> str | None:
    if secret is None:
        return None
    return f"{DEVICE_TEST_PATH}?ctx={context_token.sign(endpoint_id, DEVICE_TEST_PURPOSE, secret, until)}"


def _organisation_of(directory: Directory, endpoint: Endpoint) -> str:
    return directory.get_organisation(endpoint.org_id).display_name
