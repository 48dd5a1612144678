"""Patient join from the SMS link: token -> visit -> the visit's meeting.

Unknown, expired and cancelled tokens are one outcome (`JoinLinkInvalidError`) reached with the same
work (one point read), so the answer never tells whether a token ever existed.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Protocol

from shared.adapters.storage import Storage
from shared.domain.join_tokens import JoinTarget
from shared.domain.meetings import Meeting
from shared.errors import JoinLinkInvalidError
from shared.services.ehr_write_back import EndpointDirectory, note_patient_waiting
from shared.services.meetings import MeetingService, get_or_create_meeting

logger = logging.getLogger(__name__)


class JoinTokens(Protocol):
    """Finds the visit a join token opens; None when there is no such token."""

    def find(self, token: str) -> JoinTarget | None: ...


def join_visit(
    tokens: JoinTokens,
    storage: Storage,
    meetings: MeetingService,
    directory: EndpointDirectory,
    token: str,
    now: datetime,
) -> Meeting:
    """The meeting the patient's link opens, created if the visit has none yet; the EHR hears that the
    patient waits (`note_patient_waiting`).

    Raises JoinLinkInvalidError, MeetingNotOpenedError (no meeting yet, organiser unknown), UpstreamError.
    """
    target = tokens.find(token)
    if target is None or not target.joinable(now):
        raise JoinLinkInvalidError("This link is not valid.")
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
    account = storage.for_geo(target.geo)
    note_patient_waiting(directory, account, target.geo, target.endpoint_id, target.visit_id, now)
    return meeting
