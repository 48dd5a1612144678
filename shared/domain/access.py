"""Who may do what: admins and report readers (Entra app roles), named approvers, each within one tenant.

Every organisation belongs to one Entra tenant. A caller acts only on organisations of their own
tenant: anything of another tenant is answered as if it did not exist. Users are identified by tenant +
object id (`tid` + `oid`), which Microsoft documents as immutable; a UPN is only what an admin types to
name an approver, matched once (the approver's first sign-in in that tenant) and then pinned to the oid.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.domain.config import Endpoint
from shared.errors import ForbiddenError, NotFoundError

ADMIN_ROLE = "Connector.Admin"
"""The app role (Entra app registration) that makes a caller an admin of the configuration API."""
REPORT_READER_ROLE = "Connector.ReportReader"
"""The app role that lets a caller read the reports of their tenant's endpoints, and nothing else."""


@dataclass(frozen=True)
class Caller:
    """Who called: the token's user, tenant and app roles (nothing else from the token is kept)."""

    upn: str
    object_id: str
    tenant_id: str
    roles: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return ADMIN_ROLE in self.roles

    @property
    def reads_reports(self) -> bool:
        return self.is_admin or REPORT_READER_ROLE in self.roles


def require_admin(caller: Caller) -> None:
    """Raises ForbiddenError unless the caller holds the admin app role."""
    if not caller.is_admin:
        raise ForbiddenError(f"This needs the {ADMIN_ROLE} app role.")


def require_report_reader(caller: Caller) -> None:
    """Raises ForbiddenError unless the caller holds the report reader (or admin) app role."""
    if not caller.reads_reports:
        raise ForbiddenError(f"This needs the {REPORT_READER_ROLE} or {ADMIN_ROLE} app role.")


def require_tenant(caller: Caller, tenant_id: str, what: str) -> None:
    """Raises NotFoundError (as if absent) unless the thing belongs to the caller's tenant."""
    if not tenant_id or tenant_id != caller.tenant_id:
        raise NotFoundError(f"No such {what}.")


def is_approver(caller: Caller, endpoint: Endpoint) -> bool:
    """Whether the caller is the endpoint's approver: its tenant, and the pinned object id (before the
    approver's first sign-in, the UPN the admin named)."""
    if caller.tenant_id != endpoint.tenant_id or not caller.object_id:
        return False
    if endpoint.approver_object_id:
        return caller.object_id == endpoint.approver_object_id
    return bool(caller.upn) and caller.upn == endpoint.approver_upn.lower()


def require_approver(caller: Caller, endpoint: Endpoint) -> None:
    """Raises ForbiddenError unless the caller is the approver an admin named on the endpoint."""
    if not is_approver(caller, endpoint):
        raise ForbiddenError("Only the approver named on this endpoint may do this.")


def require_admin_or_approver(caller: Caller, endpoint: Endpoint) -> None:
    """Raises ForbiddenError unless the caller is an admin or the endpoint's named approver."""
    if not caller.is_admin:
        require_approver(caller, endpoint)
