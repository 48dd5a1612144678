"""FHIR endpoints of an organisation: register, change, submit for approval, SMS settings.

Any admin change to an approved endpoint sends it back to `pending_approval` with the reason, and
every change raises the endpoint's configuration `version`, which an approval must match.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any

from shared.adapters.config_store import ConfigStore, Versioned, new_id
from shared.domain.access import Caller, is_approver, require_admin, require_admin_or_approver
from shared.domain.config import (
    Endpoint,
    EndpointStatus,
    NumberVerification,
    SmsSettings,
    check_bool,
    check_environment,
    check_organizer,
    check_sms_settings,
    check_time_zone,
    check_upn,
    normalise_fhir_base_url,
    sms_settings_document,
    status_after_admin_change,
)
from shared.errors import ConflictError, InvalidRequestError, NotFoundError
from shared.services.config_changes import ReadBody, check_if_match, record_change, refuse_unknown_fields
from shared.services.tenancy import read_own_endpoint, read_own_organisation

logger = logging.getLogger(__name__)

_FIELDS = (
    "fhir_base_url",
    "environment",
    "approver_upn",
    "time_zone",
    "require_body_hash",
    "organizer_user_id",
    "ehr_write_back",
    "announce_entry_exit",
)
_DEFAULTS = {"require_body_hash": False, "ehr_write_back": False, "announce_entry_exit": False}
_CHECKS = {
    "environment": check_environment,
    "approver_upn": check_upn,
    "time_zone": check_time_zone,
    "require_body_hash": lambda value: check_bool(value, "require_body_hash"),
    "organizer_user_id": check_organizer,
    "ehr_write_back": lambda value: check_bool(value, "ehr_write_back"),
    "announce_entry_exit": lambda value: check_bool(value, "announce_entry_exit"),
}


def _check(name: str, value: Any, loopback_http: bool) -> Any:
    if name == "fhir_base_url":
        return normalise_fhir_base_url(value, loopback_http=loopback_http)
    return _CHECKS[name](value)


def create_endpoint(
    store: ConfigStore,
    caller: Caller,
    org_id: str,
    read_body: ReadBody,
    now: datetime,
    *,
    loopback_http: bool = False,
) -> Versioned[Endpoint]:
    """Register a FHIR endpoint as a draft (`loopback_http`: setting LOOPBACK_HTTP). Raises ForbiddenError,
    NotFoundError (organisation), InvalidRequestError (with the reason), ConflictError (URL registered already)."""
    require_admin(caller)
    org = read_own_organisation(store, caller, org_id).value
    document = read_body()
    refuse_unknown_fields(document, set(_FIELDS))
    values = {name: _check(name, document.get(name, _DEFAULTS.get(name)), loopback_http) for name in _FIELDS}
    endpoint = Endpoint(
        id=new_id("ep"),
        org_id=org.id,
        geo=org.geo,
        status=EndpointStatus.DRAFT,
        version=1,
        tenant_id=org.tenant_id,
        **values,
    )
    created = store.create_endpoint(endpoint)
    record_change(store, caller, org.id, "endpoint.created", endpoint.id, now, **_audit_values(values))
    return created


def update_endpoint(
    store: ConfigStore,
    caller: Caller,
    endpoint_id: str,
    read_body: ReadBody,
    if_match: str | None,
    now: datetime,
    *,
    loopback_http: bool = False,
) -> Versioned[Endpoint]:
    """Change endpoint fields; an approved endpoint goes back to pending, with the reason recorded. Naming
    another approver unpins the previous one's object id.

    Raises ForbiddenError, NotFoundError, InvalidRequestError, ConflictError, PreconditionFailedError.
    """
    require_admin(caller)
    current = read_own_endpoint(store, caller, endpoint_id)
    document = read_body()
    refuse_unknown_fields(document, {*_FIELDS, "reason"})
    check_if_match(if_match, current)
    changes = {name: _check(name, document[name], loopback_http) for name in _FIELDS if name in document}
    changes = {name: value for name, value in changes.items() if getattr(current.value, name) != value}
    if "approver_upn" in changes:
        changes["approver_object_id"] = None
    return _save_admin_change(store, caller, current, changes, document.get("reason"), now)


UNVERIFIED_OVERRIDE = "allow_unverified_number"
"""The SMS settings field by which an admin links a number still awaiting toll-free verification."""


def put_sms_settings(
    store: ConfigStore, caller: Caller, endpoint_id: str, read_body: ReadBody, if_match: str | None, now: datetime
) -> Versioned[Endpoint]:
    """Replace an endpoint's SMS settings. Needs both SMS consents of the organisation and a sender number
    the organisation owns. Raises ForbiddenError, NotFoundError, InvalidRequestError, ConflictError,
    PreconditionFailedError."""
    require_admin(caller)
    current = read_own_endpoint(store, caller, endpoint_id)
    document = read_body()
    check_if_match(if_match, current)
    if not isinstance(document, dict):
        raise InvalidRequestError("The SMS settings must be a JSON object.")
    override = check_bool(document.get(UNVERIFIED_OVERRIDE, False), UNVERIFIED_OVERRIDE)
    sms = check_sms_settings({name: value for name, value in document.items() if name != UNVERIFIED_OVERRIDE})
    org = store.get_organisation(current.value.org_id)
    if not org.sms_consented:
        raise ConflictError("Both SMS consents of the organisation are needed before SMS settings can be saved.")
    if sms.from_number:
        _check_number_can_text(store, caller, org.id, sms.from_number, override, endpoint_id, now)
    changes = {"sms": sms} if sms != current.value.sms else {}
    return _save_admin_change(store, caller, current, changes, None, now)


def _check_number_can_text(
    store: ConfigStore, caller: Caller, org_id: str, number: str, override: bool, endpoint_id: str, now: datetime
) -> None:
    """The number is the organisation's and verified, or the admin overrode that explicitly (audited).

    Raises InvalidRequestError (not the organisation's number), ConflictError (awaiting verification).
    """
    try:
        owned = store.get_phone_number(org_id, number)
    except NotFoundError:
        raise InvalidRequestError("from_number is not one of the organisation's phone numbers.") from None
    if owned.verification != NumberVerification.PENDING:
        return
    if not override:
        raise ConflictError(
            "from_number has not passed toll-free verification, and carriers block SMS from such numbers. "
            "Record its verification (PUT .../phone-numbers/{number}/toll-free-verification) or send "
            f"{UNVERIFIED_OVERRIDE}: true to link it anyway (recorded in the audit log)."
        )
    record_change(store, caller, org_id, "sms_settings.unverified_number_linked", endpoint_id, now, from_number=number)
    logger.warning("Endpoint %s linked to a number awaiting toll-free verification, by override", endpoint_id)


def submit_endpoint(store: ConfigStore, caller: Caller, endpoint_id: str, now: datetime) -> Versioned[Endpoint]:
    """Draft -> pending_approval. Raises ForbiddenError, NotFoundError, ConflictError (not a draft)."""
    require_admin(caller)
    current = read_own_endpoint(store, caller, endpoint_id)
    if current.value.status is not EndpointStatus.DRAFT:
        raise ConflictError(f"Only a draft can be submitted; this endpoint is {current.value.status}.")
    submitted = replace(current.value, status=EndpointStatus.PENDING_APPROVAL, pending_reason="submitted")
    saved = store.replace_endpoint(submitted, current.etag, old_url=current.value.fhir_base_url)
    record_change(store, caller, submitted.org_id, "endpoint.submitted", endpoint_id, now)
    return saved


def get_endpoint(store: ConfigStore, caller: Caller, endpoint_id: str) -> Versioned[Endpoint]:
    """Admins of its tenant and its approver may read it. Raises ForbiddenError, NotFoundError."""
    current = read_own_endpoint(store, caller, endpoint_id)
    require_admin_or_approver(caller, current.value)
    return current


def list_endpoints(store: ConfigStore, caller: Caller, org_id: str) -> list[Versioned[Endpoint]]:
    """Raises ForbiddenError, NotFoundError."""
    require_admin(caller)
    read_own_organisation(store, caller, org_id)
    return store.list_endpoints(org_id)


def list_my_endpoints(store: ConfigStore, caller: Caller) -> list[Versioned[Endpoint]]:
    """The endpoints of the caller's tenant that the caller has a part in: every one for admins and report
    readers, those they are the approver of for anyone else (none: an empty list, not an error)."""
    found = [e for org in store.list_organisations(caller.tenant_id) for e in store.list_endpoints(org.value.id)]
    if caller.reads_reports:
        return found
    return [e for e in found if is_approver(caller, e.value)]


def _save_admin_change(
    store: ConfigStore,
    caller: Caller,
    current: Versioned[Endpoint],
    changes: dict[str, Any],
    reason: object,
    now: datetime,
) -> Versioned[Endpoint]:
    if reason is not None and (not isinstance(reason, str) or len(reason) > 500):
        raise InvalidRequestError("reason must be text of at most 500 characters.")
    if not changes:
        return current
    endpoint = current.value
    status = status_after_admin_change(endpoint.status)
    why = reason or f"changed: {', '.join(sorted(changes))}"
    changed = replace(
        endpoint,
        **changes,
        status=status,
        version=endpoint.version + 1,
        pending_reason=why if status is EndpointStatus.PENDING_APPROVAL else endpoint.pending_reason,
    )
    saved = store.replace_endpoint(changed, current.etag, old_url=endpoint.fhir_base_url)
    details = _audit_values(changes)
    if endpoint.status is EndpointStatus.APPROVED:
        details["back_to_pending_because"] = why
    record_change(store, caller, endpoint.org_id, "endpoint.updated", endpoint.id, now, **details)
    return saved


def _audit_values(values: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe values for the audit log: SMS settings as a summary (the sender number is ours, not a patient's)."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, SmsSettings):
            out["sms"] = sms_settings_document(value)
        else:
            out[name] = value if isinstance(value, bool) or value is None else str(value)
    return out
