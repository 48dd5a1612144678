"""The local stand-in for Teams: "meetings" that are pages of this app, so `make run` works end to end.

A sandbox meeting is derived from the visit alone (id = the visit's externalId), so creating it is
idempotent without any state, like Graph's createOrGet. Its join URL is
`{PUBLIC_BASE_URL}/api/sandbox/meetings/{id}`, served by `shared/triggers/sandbox.py`.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from shared.domain.meetings import CallSubscription, Meeting, MeetingOptions, VisitKey

logger = logging.getLogger(__name__)

SANDBOX_MEETING_ROUTE = "sandbox/meetings"


class SandboxMeetingService:
    """`MeetingService` whose meetings are local pages."""

    def __init__(self, public_base_url: str) -> None:
        self._base = f"{public_base_url.rstrip('/')}/api/{SANDBOX_MEETING_ROUTE}"

    def create_or_get(
        self,
        key: VisitKey,
        organizer_user_id: str,
        subject: str,
        start: datetime,
        end: datetime,
        options: MeetingOptions,
    ) -> Meeting:
        meeting_id = key.external_id
        logger.info("Sandbox meeting ready for visit %s", meeting_id[:12])
        return Meeting(id=meeting_id, join_url=f"{self._base}/{meeting_id}")

    def subscribe_call_events(self, join_url: str, client_state: str, expires_at: datetime) -> CallSubscription:
        """No Teams, so no call events: a subscription that only exists in our table (renewals work locally)."""
        subscription_id = f"sandbox-{uuid.uuid4().hex}"
        logger.info("Sandbox call-event subscription %s recorded", subscription_id)
        return CallSubscription(subscription_id, expires_at)

    def renew_call_events(self, subscription_id: str, expires_at: datetime) -> datetime:
        logger.info("Sandbox call-event subscription %s renewed", subscription_id)
        return expires_at

    def reauthorize_call_events(self, subscription_id: str) -> None:
        logger.info("Sandbox call-event subscription %s reauthorized", subscription_id)

    def delete_call_events(self, subscription_id: str) -> None:
        logger.info("Sandbox call-event subscription %s deleted", subscription_id)
