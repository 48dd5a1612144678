"""The portal's server-side sessions in the control account: the browser holds only an opaque session id.

    portalsessions  ExpiringTable: PK shard, RK SHA-256 of the session id; the caller (upn, object id,
                    tenant, app roles, as the sign-in's access token said), the CSRF token, the expiry.
                    Deleted at sign-out or, unused, by the timer once expired (O(due), like `authstates`).

No token of Entra is kept: the session stands for the caller its validated access token named. The row
key is a digest, so a leaked table row does not give a usable cookie.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime

from shared.adapters.expiring import ExpiringTable
from shared.adapters.storage import StorageAccount
from shared.domain.access import Caller
from shared.errors import NotAuthorisedError, NotFoundError

PORTAL_SESSIONS = "portalsessions"
SESSION_SHARDS = 4
"""One row per person signed in: 4 shards are far from one partition's limit."""


@dataclass(frozen=True)
class PortalSession:
    caller: Caller
    csrf_token: str
    expires_at: datetime


class PortalSessions:
    def __init__(self, control: StorageAccount) -> None:
        self._rows = ExpiringTable(control.table(PORTAL_SESSIONS), SESSION_SHARDS)

    def create(self, caller: Caller, expires_at: datetime) -> tuple[str, PortalSession]:
        """A new session of `caller`; (its id for the cookie, the session)."""
        session_id = secrets.token_urlsafe(32)
        session = PortalSession(caller, secrets.token_urlsafe(32), expires_at)
        fields = {
            "upn": caller.upn,
            "object_id": caller.object_id,
            "tenant_id": caller.tenant_id,
            "roles": json.dumps(sorted(caller.roles)),
            "csrf": session.csrf_token,
        }
        self._rows.create(_key(session_id), fields, expires_at)
        return session_id, session

    def get(self, session_id: str, now: datetime) -> PortalSession:
        """Raises NotAuthorisedError when the session is unknown, ended or expired."""
        if not session_id:
            raise NotAuthorisedError("Please sign in.")
        try:
            entity = self._rows.get(_key(session_id)).entity
        except NotFoundError:
            raise NotAuthorisedError("Your session has ended; please sign in again.") from None
        if entity["DeleteAfter"] <= now:
            raise NotAuthorisedError("Your session has expired; please sign in again.")
        caller = Caller(entity["upn"], entity["object_id"], entity["tenant_id"], frozenset(json.loads(entity["roles"])))
        return PortalSession(caller, entity["csrf"], entity["DeleteAfter"])

    def delete(self, session_id: str) -> None:
        """End a session (sign-out); idempotent."""
        try:
            stored = self._rows.get(_key(session_id))
        except NotFoundError:
            return
        try:
            self._rows.delete(_key(session_id), stored.entity["DeleteAfter"])
        except NotFoundError:
            return

    def delete_expired(self, now: datetime) -> int:
        """Delete the sessions whose time has passed; returns how many."""
        return self._rows.delete_due(now)


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()
