"""The portal's server-side sessions in Azurite: what a cookie stands for, until sign-out or expiry, and the
timer deleting expired ones in O(due) with the control account's lifetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.adapters.portal_sessions import PORTAL_SESSIONS, PortalSessions
from shared.adapters.storage import StorageAccount
from shared.domain.access import Caller
from shared.errors import NotAuthorisedError
from shared.services.retention import enforce_lifetimes

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
CALLER = Caller(
    "admin@hospital.example", "0000000a-0000-0000-0000-000000000000", "tenant-a", frozenset({"Connector.Admin"})
)


def rows(account: StorageAccount) -> list[dict]:
    return [row.entity for row in account.table(PORTAL_SESSIONS).query("PartitionKey ne ''", {})]


def test_a_session_is_its_caller_and_csrf_token_and_the_row_holds_no_session_id(spare_account: StorageAccount) -> None:
    sessions = PortalSessions(spare_account)

    session_id, created = sessions.create(CALLER, NOW + timedelta(hours=8))
    read = sessions.get(session_id, NOW)

    assert read.caller == CALLER
    assert read.csrf_token == created.csrf_token != session_id
    stored = rows(spare_account)
    assert len(stored) == 2  # the row and its time-index row
    assert not any(session_id in str(value) for row in stored for value in row.values())


def test_unknown_ended_and_expired_sessions_are_refused(spare_account: StorageAccount) -> None:
    sessions = PortalSessions(spare_account)
    ended, _ = sessions.create(CALLER, NOW + timedelta(hours=8))
    expired, _ = sessions.create(CALLER, NOW)
    sessions.delete(ended)
    sessions.delete(ended)  # idempotent

    for session_id in ("", "made-up", ended, expired):
        with pytest.raises(NotAuthorisedError):
            sessions.get(session_id, NOW)


def test_the_timer_deletes_expired_sessions_of_the_control_account_only_when_due(spare_account: StorageAccount) -> None:
    sessions = PortalSessions(spare_account)
    sessions.create(CALLER, NOW - timedelta(minutes=1))
    later, _ = sessions.create(CALLER, NOW + timedelta(hours=1))

    report = enforce_lifetimes(
        account=spare_account, endpoint_ids=list, reporting_period=timedelta(days=90), now=NOW, control=True
    )

    assert report.portal_sessions == 1
    assert len(rows(spare_account)) == 2  # the later session and its index row
    assert sessions.get(later, NOW).caller == CALLER
