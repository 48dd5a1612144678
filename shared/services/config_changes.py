"""What every configuration change shares: the If-Match check and the audit entry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from shared.adapters.config_store import ConfigStore, Versioned
from shared.domain.access import Caller
from shared.domain.config import AuditEntry
from shared.errors import InvalidRequestError, PreconditionFailedError

ReadBody = Callable[[], dict[str, Any]]
"""Reads and parses the request's JSON body: services call it only once the caller is known to be allowed."""


def check_if_match(if_match: str | None, current: Versioned[Any]) -> None:
    """Raises PreconditionFailedError when the caller's If-Match names another version.

    Without If-Match the write is still conditional on the version read in this request.
    """
    if if_match is None or if_match.strip() == "*":
        return
    offered = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if current.http_etag not in offered:
        raise PreconditionFailedError("The resource changed since you read it (If-Match); read it again.")


def record_change(
    store: ConfigStore,
    caller: Caller,
    org_id: str,
    action: str,
    target: str,
    now: datetime,
    **details: Any,
) -> None:
    """Append an audit entry. `details` must hold no secrets and no patients' phone numbers."""
    store.append_audit(AuditEntry(org_id, now, caller.upn or caller.object_id, action, target, dict(details)))


def refuse_unknown_fields(document: dict[str, Any], allowed: set[str]) -> None:
    """Raises InvalidRequestError naming fields we do not know (a typo must not be silently ignored)."""
    unknown = set(document) - allowed
    if unknown:
        raise InvalidRequestError(f"Unknown field(s): {', '.join(sorted(unknown))}.")
