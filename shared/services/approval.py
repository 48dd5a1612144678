"""The approver's part: prove Epic credentials for the endpoint's FHIR base, then approve that version.

The approver is who an admin named by UPN, within the endpoint's tenant; their first call here pins
them by Entra object id (`approver_object_id`), so from then on a renamed or reused UPN changes nothing.

1. `start_validation`: the named approver gets an Epic authorize URL (PKCE S256, `aud` = FHIR base)
   with a one-time `state` bound to them (object id), the endpoint and its configuration version.
2. `complete_validation`: Epic redirects back; the code is exchanged at Epic's token endpoint. Success
   proves the approver signed in to Epic for that organisation. No Epic token is kept.
3. `approve`: only the named approver, within `VALIDATION_VALID_FOR` of a validation, and only for the
   version validated: a concurrent admin edit makes it fail with 409.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from shared.adapters.config_store import AuthState, ConfigStore, Validation, Versioned
from shared.adapters.smart import SmartClient, new_pkce
from shared.domain.access import Caller, require_approver
from shared.domain.config import Endpoint, EndpointStatus
from shared.errors import ConflictError, InvalidRequestError, NotFoundError, PreconditionFailedError
from shared.services.config_changes import record_change
from shared.services.tenancy import read_own_endpoint

logger = logging.getLogger(__name__)

STATE_TTL = timedelta(minutes=10)
VALIDATION_VALID_FOR = timedelta(minutes=30)
EPIC_SCOPE = "openid fhirUser"


@dataclass(frozen=True)
class ValidationStart:
    authorize_url: str
    expires_at: datetime


def start_validation(
    store: ConfigStore,
    smart: SmartClient,
    caller: Caller,
    endpoint_id: str,
    redirect_uri: str,
    now: datetime,
    expected_version: int | None = None,
) -> ValidationStart:
    """`expected_version`: the version the approver was shown (the portal), if any. Raises ForbiddenError (not
    the approver), NotFoundError (also another tenant's), ConflictError (nothing to approve, or another
    version than the one shown), UpstreamError (SMART discovery failed)."""
    endpoint = recognise_approver(store, caller, endpoint_id, now).value
    if endpoint.status is not EndpointStatus.PENDING_APPROVAL:
        raise ConflictError(f"The endpoint is {endpoint.status}; only a pending endpoint can be validated.")
    _require_version(endpoint, expected_version)
    config = smart.discover(endpoint.fhir_base_url)
    verifier, challenge = new_pkce()
    state = secrets.token_urlsafe(32)
    expires_at = now + STATE_TTL
    store.create_auth_state(
        state,
        AuthState(
            endpoint.id,
            caller.object_id,
            endpoint.version,
            verifier,
            config.token_endpoint,
            expires_at,
            context={"upn": caller.upn},
        ),
    )
    url = smart.authorize_url(
        config,
        redirect_uri=redirect_uri,
        state=state,
        code_challenge=challenge,
        aud=endpoint.fhir_base_url,
        scope=EPIC_SCOPE,
    )
    logger.info("Epic validation started for endpoint %s", endpoint.id)
    return ValidationStart(url, expires_at)


def complete_validation(
    store: ConfigStore, smart: SmartClient, state: str, code: str, redirect_uri: str, now: datetime
) -> Validation:
    """Redeem the one-time state and exchange the code. Raises InvalidRequestError (unknown, used or expired
    state; Epic refused), ConflictError (state redeemed concurrently), UpstreamError (Epic failed)."""
    if not state or not code:
        raise InvalidRequestError("The callback needs both code and state.")
    try:
        pending = store.take_auth_state(state)
    except NotFoundError:
        raise InvalidRequestError(
            "This sign-in link is unknown or was used already; start the validation again."
        ) from None
    except PreconditionFailedError:
        raise ConflictError("This sign-in was completed by another request.") from None
    if pending.expires_at <= now:
        raise InvalidRequestError("This sign-in took too long; start the validation again.")
    smart.exchange_code(
        pending.token_endpoint, code=code, redirect_uri=redirect_uri, code_verifier=pending.code_verifier
    )
    validation = Validation(pending.endpoint_id, pending.approver_id, pending.version, now)
    store.upsert_validation(validation)
    endpoint = store.get_endpoint(pending.endpoint_id)
    actor = Caller(pending.context.get("upn", ""), pending.approver_id, endpoint.tenant_id, frozenset())
    record_change(
        store, actor, endpoint.org_id, "endpoint.validated_with_epic", endpoint.id, now, version=pending.version
    )
    return validation


def approve(
    store: ConfigStore, caller: Caller, endpoint_id: str, now: datetime, expected_version: int | None = None
) -> Versioned[Endpoint]:
    """`expected_version`: the version the approver was shown (the portal), if any. Raises ForbiddenError,
    NotFoundError, ConflictError (not pending, no recent validation, the configuration changed since it
    was validated, or it is not the version shown)."""
    current = recognise_approver(store, caller, endpoint_id, now)
    endpoint = current.value
    if endpoint.status is not EndpointStatus.PENDING_APPROVAL:
        raise ConflictError(f"The endpoint is {endpoint.status}; only a pending endpoint can be approved.")
    _require_version(endpoint, expected_version)
    try:
        validation = store.get_validation(endpoint.id, caller.object_id)
    except NotFoundError:
        raise ConflictError("Validate with Epic first (POST .../validation).") from None
    if now - validation.validated_at > VALIDATION_VALID_FOR:
        raise ConflictError("The Epic validation is older than 30 minutes; validate again.")
    if validation.version != endpoint.version:
        raise ConflictError("The configuration changed since you validated it; review it and validate again.")
    approved = replace(endpoint, status=EndpointStatus.APPROVED, pending_reason=None)
    try:
        saved = store.replace_endpoint(approved, current.etag, old_url=endpoint.fhir_base_url)
    except PreconditionFailedError:
        raise ConflictError("The configuration changed while you approved it; review it and validate again.") from None
    record_change(store, caller, endpoint.org_id, "endpoint.approved", endpoint.id, now, version=endpoint.version)
    return saved


def _require_version(endpoint: Endpoint, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != endpoint.version:
        raise ConflictError(
            f"The configuration changed (now version {endpoint.version}, you were shown {expected_version}); "
            "review it again."
        )


def recognise_approver(store: ConfigStore, caller: Caller, endpoint_id: str, now: datetime) -> Versioned[Endpoint]:
    """The endpoint, once the caller is known as its approver; the first time, their object id is pinned
    (audited; the configuration version does not change). Raises NotFoundError (absent or another tenant's),
    ForbiddenError (not the approver), ConflictError (the endpoint changed meanwhile)."""
    current = read_own_endpoint(store, caller, endpoint_id)
    require_approver(caller, current.value)
    if current.value.approver_object_id:
        return current
    pinned = replace(current.value, approver_object_id=caller.object_id)
    try:
        saved = store.replace_endpoint(pinned, current.etag, old_url=pinned.fhir_base_url)
    except PreconditionFailedError:
        raise ConflictError("The endpoint changed while you signed in; try again.") from None
    record_change(store, caller, pinned.org_id, "endpoint.approver_pinned", pinned.id, now, object_id=caller.object_id)
    logger.info("Approver of endpoint %s pinned to their object id", pinned.id)
    return saved
