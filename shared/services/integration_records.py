"""Integration records of an approved endpoint, for admins of its tenant and its approver."""

from __future__ import annotations

from typing import Any

from shared.adapters.config_store import ConfigStore
from shared.domain import context_token
from shared.domain.access import Caller, require_admin_or_approver
from shared.domain.config import EndpointStatus
from shared.domain.integration_records import DEVICE_TEST_PURPOSE, RecordInputs, integration_records
from shared.errors import ConflictError
from shared.services.tenancy import read_own_endpoint


def get_integration_records(
    store: ConfigStore, caller: Caller, endpoint_id: str, *, public_base_url: str, epic_client_id: str, secret: bytes
) -> dict[str, dict[str, Any]]:
    """Raises ForbiddenError, NotFoundError, ConflictError (endpoint not approved)."""
    endpoint = read_own_endpoint(store, caller, endpoint_id).value
    require_admin_or_approver(caller, endpoint)
    if endpoint.status is not EndpointStatus.APPROVED:
        raise ConflictError(f"Integration records exist for approved endpoints only; this one is {endpoint.status}.")
    org = store.get_organisation(endpoint.org_id)
    token = context_token.sign(endpoint.id, DEVICE_TEST_PURPOSE, secret)
    return integration_records(org, endpoint, RecordInputs(public_base_url, epic_client_id, token))
