"""Reading an organisation's audit log (admins of its tenant), newest first."""

from __future__ import annotations

from shared.adapters.config_store import ConfigStore
from shared.domain.access import Caller, require_admin
from shared.domain.config import AuditEntry
from shared.services.tenancy import read_own_organisation


def list_audit(store: ConfigStore, caller: Caller, org_id: str) -> list[AuditEntry]:
    """Raises ForbiddenError, NotFoundError (organisation)."""
    require_admin(caller)
    read_own_organisation(store, caller, org_id)
    return store.list_audit(org_id)
