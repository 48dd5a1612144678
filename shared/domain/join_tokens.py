"""SMS join links: the token format, its stored hash, and whether a visit can still be joined.

A join token is ``<geo>-<43 URL-safe random characters>`` (256 bits): the geography prefix says which
storage account holds the visit, so a lookup reads one partition in one account and never touches
another geography's data; the random part is what makes the link unguessable. Storage keeps only the
SHA-256 of the whole token.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

JOINABLE_STATUS = "booked"
"""The only stored status that can be joined; "cancelled", "noshow", "deleted", ... cannot."""

JOIN_GRACE_AFTER_END = timedelta(hours=1)
"""Visits overrun: the link keeps working this long after the scheduled end."""

TOKEN_RANDOM_BYTES = 32
ENDED_LINK_LIFETIME = timedelta(days=14)
"""How long after the purge a link still says that its visit is over and whom to contact (then: not valid)."""


class JoinWindow(StrEnum):
    """Where a booked visit's link stands: before it opens the meeting, while it does, after the visit."""

    EARLY = "early"
    OPEN = "open"
    OVER = "over"


@dataclass(frozen=True)
class JoinTarget:
    """The visit a join token opens. `organizer_user_id` is the Teams organiser, when the writer knows it."""

    endpoint_id: str
    geo: str
    visit_id: str
    start: datetime
    end: datetime
    status: str
    organizer_user_id: str | None = None

    def window(self, now: datetime, opens_before: timedelta) -> JoinWindow | None:
        """Where the link stands at `now` (the meeting opens `opens_before` the start and stays open until the
        end plus the grace); None for a visit that is not booked (cancelled, no-show: the link is void)."""
        if self.status != JOINABLE_STATUS:
            return None
        if now >= self.end + JOIN_GRACE_AFTER_END:
            return JoinWindow.OVER
        return JoinWindow.EARLY if now < self.start - opens_before else JoinWindow.OPEN


def new_token(geo: str) -> str:
    """A fresh join token for a visit stored in `geo`."""
    return f"{geo.lower()}-{secrets.token_urlsafe(TOKEN_RANDOM_BYTES)}"


def token_geo(token: str) -> str:
    """The geography code a token names (upper case); "" when it names none. Not validated here."""
    prefix, separator, _ = token.partition("-")
    return prefix.upper() if separator else ""


def token_hash(token: str) -> str:
    """What storage keeps instead of the token: hex SHA-256 of its UTF-8 text."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def ended_link_key(token: str) -> str:
    """The key of a purged visit's link in `endedlinks`: a SHA-256 of its own domain, so nothing left after the
    purge carries the hash the visit was stored under."""
    return hashlib.sha256(b"ended link\n" + token.encode("utf-8")).hexdigest()
