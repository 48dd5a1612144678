"""Create, read and change organisations (admins only); consents to SMS live here too."""

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
from shared.services.config_changes import check_if_match, record_change, refuse_unknown_fields

_EDITABLE = ("name", "display_name", "consent_send_on_behalf", "consent_patients_consented")


def create_organisation(
    store: ConfigStore, caller: Caller, document: dict[str, Any], geos: tuple[str, ...], now: datetime
) -> Versioned[Organisation]:
    """Raises ForbiddenError, InvalidRequestError (naming the bad field)."""
    require_admin(caller)
    refuse_unknown_fields(document, {"name", "geo", "display_name"})
    geo = document.get("geo")
    if geo not in geos:
        raise InvalidRequestError(f"geo must be one of this deployment's geographies: {', '.join(geos)}.")
    org = Organisation(
        id=new_id("org"),
        name=check_name(document.get("name"), "name", MAX_NAME_LENGTH),
        geo=geo,
        display_name=check_name(document.get("display_name"), "display_name", MAX_DISPLAY_NAME_LENGTH),
    )
    created = store.create_organisation(org)
    record_change(store, caller, org.id, "organisation.created", org.id, now, name=org.name, geo=org.geo)
    return created


def update_organisation(
    store: ConfigStore, caller: Caller, org_id: str, document: dict[str, Any], if_match: str | None, now: datetime
) -> Versioned[Organisation]:
    """Change name, display name or consents. Raises ForbiddenError, NotFoundError, InvalidRequestError,
    PreconditionFailedError."""
    require_admin(caller)
    if "geo" in document:
        raise InvalidRequestError("geo is fixed when the organisation is created.")
    refuse_unknown_fields(document, set(_EDITABLE))
    current = store.read_organisation(org_id)
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
    require_admin(caller)
    return store.read_organisation(org_id)


def list_organisations(store: ConfigStore, caller: Caller) -> list[Versioned[Organisation]]:
    require_admin(caller)
    return store.list_organisations()
