"""Create, read and change organisations (admins of the organisation's tenant); SMS consents live here too."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from shared.adapters.config_store import ConfigStore, Versioned, new_id
from shared.domain.access import Caller, require_admin
from shared.domain.config import (
    MAX_DISPLAY_NAME_LENGTH,
    MAX_NAME_LENGTH,
    Organisation,
    check_bool,
    check_name,
)
from shared.errors import InvalidRequestError
from shared.services.config_changes import ReadBody, check_if_match, record_change, refuse_unknown_fields
from shared.services.tenancy import read_own_organisation

_EDITABLE = ("name", "display_name", "consent_send_on_behalf", "consent_patients_consented")


def create_organisation(
    store: ConfigStore, caller: Caller, read_body: ReadBody, geos: tuple[str, ...], now: datetime
) -> Versioned[Organisation]:
    """An organisation of the caller's tenant. Raises ForbiddenError, InvalidRequestError (naming the bad field)."""
    require_admin(caller)
    document = read_body()
    refuse_unknown_fields(document, {"name", "geo", "display_name"})
    geo = document.get("geo")
    if geo not in geos:
        raise InvalidRequestError(f"geo must be one of this deployment's geographies: {', '.join(geos)}.")
    org = Organisation(
        id=new_id("org"),
        name=check_name(document.get("name"), "name", MAX_NAME_LENGTH),
        geo=geo,
        display_name=check_name(document.get("display_name"), "display_name", MAX_DISPLAY_NAME_LENGTH),
        tenant_id=caller.tenant_id,
    )
    created = store.create_organisation(org)
    record_change(store, caller, org.id, "organisation.created", org.id, now, name=org.name, geo=org.geo)
    return created


def update_organisation(
    store: ConfigStore, caller: Caller, org_id: str, read_body: ReadBody, if_match: str | None, now: datetime
) -> Versioned[Organisation]:
    """Change name, display name or consents. Raises ForbiddenError, NotFoundError, InvalidRequestError,
    PreconditionFailedError."""
    require_admin(caller)
    current = read_own_organisation(store, caller, org_id)
    document = read_body()
    if "geo" in document:
        raise InvalidRequestError("geo is fixed when the organisation is created.")
    refuse_unknown_fields(document, set(_EDITABLE))
    check_if_match(if_match, current)
    changes: dict[str, Any] = {}
    for name in ("name", "display_name"):
        if name in document:
            limit = MAX_NAME_LENGTH if name == "name" else MAX_DISPLAY_NAME_LENGTH
            changes[name] = check_name(document[name], name, limit)
    for name in ("consent_send_on_behalf", "consent_patients_consented"):
        if name in document:
            changes[name] = check_bool(document[name], name)
    updated = store.replace_organisation(replace(current.value, **changes), current.etag)
    record_change(store, caller, org_id, "organisation.updated", org_id, now, **changes)
    return updated


def get_organisation(store: ConfigStore, caller: Caller, org_id: str) -> Versioned[Organisation]:
    """Raises ForbiddenError, NotFoundError (also for another tenant's organisation)."""
    require_admin(caller)
    return read_own_organisation(store, caller, org_id)


def list_organisations(store: ConfigStore, caller: Caller) -> list[Versioned[Organisation]]:
    """The organisations of the caller's tenant. Raises ForbiddenError."""
    require_admin(caller)
    return store.list_organisations(caller.tenant_id)
