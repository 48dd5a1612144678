"""Reads of configuration scoped to the caller's Entra tenant: another tenant's rows answer as absent."""

from __future__ import annotations

from shared.adapters.config_store import ConfigStore, Versioned
from shared.domain.access import Caller, require_tenant
from shared.domain.config import Endpoint, Organisation


def read_own_organisation(store: ConfigStore, caller: Caller, org_id: str) -> Versioned[Organisation]:
    """Raises NotFoundError when it does not exist or belongs to another tenant."""
    org = store.read_organisation(org_id)
    require_tenant(caller, org.value.tenant_id, "organisation")
    return org


def read_own_endpoint(store: ConfigStore, caller: Caller, endpoint_id: str) -> Versioned[Endpoint]:
    """Raises NotFoundError when it does not exist or belongs to another tenant."""
    endpoint = store.read_endpoint(endpoint_id)
    require_tenant(caller, endpoint.value.tenant_id, "endpoint")
    return endpoint
