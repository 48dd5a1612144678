"""Who may do what in the configuration API: admins (an Entra app role) and named approvers."""

from __future__ import annotations

from dataclasses import dataclass

from shared.errors import ForbiddenError

ADMIN_ROLE = "Connector.Admin"
"""The app role (Entra app registration) that makes a caller an admin of the configuration API."""


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


def require_admin(caller: Caller) -> None:
    """Raises ForbiddenError unless the caller holds the admin app role."""
    if not caller.is_admin:
        raise ForbiddenError(f"This needs the {ADMIN_ROLE} app role.")


def require_approver(caller: Caller, approver_upn: str) -> None:
    """Raises ForbiddenError unless the caller is the approver an admin named on the endpoint."""
    if not caller.upn or caller.upn != approver_upn.lower():
        raise ForbiddenError("Only the approver named on this endpoint may do this.")


def require_admin_or_approver(caller: Caller, approver_upn: str) -> None:
    """Raises ForbiddenError unless the caller is an admin or the endpoint's named approver."""
    if not caller.is_admin:
        require_approver(caller, approver_upn)
