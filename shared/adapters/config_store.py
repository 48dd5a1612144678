"""The connector's configuration in the control storage account's tables: the ConfigStore.

Reads the other features rely on (each a point read or two): `get_organisation`, `get_endpoint`,
`find_endpoint_by_url`, `get_sender_keys`. Tables and keys:

    organisations   PK "org", RK org id                  (a handful of rows: listed in one partition; tenant_id)
    endpoints       PK endpoint id, RK "endpoint"        (one point read per HL7 message; the edited SMS texts
                                                         travel with it as JSON in `sms_texts`)
    orgendpoints    PK org id, RK endpoint id            (an organisation's endpoints, one partition)
    endpointurls    PK SHA-256 of the normalised URL     (URL -> endpoint id; makes URLs unique)
    senderkeys      PK org id, RK environment            (certificate and/or JWKS URL)
    audit           PK org id, RK inverted time + random (newest first)
    authstates      ExpiringTable: PK shard, RK SHA-256 of the state (one-time OAuth state, deleted on use or,
                    unused, by the timer after its expiry; by purpose)
    validations     PK endpoint id, RK SHA-256 of approver oid (last successful Epic validation)
    phonenumbers    PK org id, RK E.164 number           (the organisation's own sender numbers)
    numberowners    PK E.164 number, RK "owner"          (number -> org id: routes inbound SMS such as STOP)
    operations      PK operation id, RK "operation"      (asynchronous phone-number orders)

Writes that touch several rows order them so a failure leaves no dangling index pointing anywhere
useful: the URL index is claimed first (so a duplicate URL fails before anything is written).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from shared.adapters.expiring import ExpiringTable
from shared.adapters.storage import StorageAccount, Table
from shared.domain.config import (
    DEFAULT_JOIN_OPENS_MINUTES,
    DEFAULT_LANGUAGE,
    DEFAULT_SEGMENT_LIMIT,
    AuditEntry,
    Endpoint,
    EndpointStatus,
    Environment,
    NumberVerification,
    Organisation,
    SenderKeys,
    SmsSettings,
    is_endpoint_id,
)
from shared.domain.sms_templates import CustomText
from shared.domain.sms_text import SmsKind
from shared.errors import ConflictError, NotFoundError

T = TypeVar("T")

ORG_PARTITION = "org"
AUTH_STATE_SHARDS = 4
"""Sign-ins and approvals are people's clicks: 4 shards are far from one partition's limit."""
MAX_TIME = 10**13
"""Milliseconds far beyond any real timestamp: inverted keys make the newest row sort first."""


@dataclass(frozen=True)
class Versioned(Generic[T]):
    """A value as read with the ETag a conditional write must present; `http_etag` is what callers see."""

    value: T
    etag: str

    @property
    def http_etag(self) -> str:
        return http_etag(self.etag)


def http_etag(table_etag: str) -> str:
    """An opaque strong HTTP ETag for a table ETag (the storage format is not part of our API)."""
    return '"' + hashlib.sha256(table_etag.encode()).hexdigest()[:20] + '"'


APPROVAL_PURPOSE = "approval"


@dataclass(frozen=True)
class AuthState:
    """A pending OAuth round trip: for which endpoint, its PKCE verifier and token endpoint, and what for.

    `purpose` keeps a state of one flow from being redeemed by another: approval states carry the
    approver's object id and the configuration version; launch states (approver "" and version 0) carry the
    launch's `context` (role, visit, ...), never an Epic token or patient data.
    """

    endpoint_id: str
    approver_id: str
    version: int
    code_verifier: str
    token_endpoint: str
    expires_at: datetime
    purpose: str = APPROVAL_PURPOSE
    context: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Validation:
    endpoint_id: str
    approver_id: str
    """The approver's Entra object id."""
    version: int
    validated_at: datetime


@dataclass(frozen=True)
class PhoneNumber:
    org_id: str
    number: str
    provider: str
    acquired_at: datetime
    verification: str = NumberVerification.NOT_REQUIRED
    """Toll-free verification: `pending_verification` until an admin records it `verified`; `not_required`
    for numbers carriers do not verify (the sandbox's)."""


@dataclass(frozen=True)
class Operation:
    id: str
    org_id: str
    kind: str
    status: str  # running | succeeded | failed
    created_at: datetime
    result: dict[str, Any]
    error: str | None = None
    progress: dict[str, str] = field(default_factory=dict)
    """Where a long provider operation stands (e.g. SDK continuation tokens), to resume it: never shown."""


def new_id(prefix: str) -> str:
    """An opaque, unguessable id (about 128 bits) with a readable prefix."""
    return f"{prefix}_{secrets.token_urlsafe(16)}"


def url_key(normalised_url: str) -> str:
    return hashlib.sha256(normalised_url.encode()).hexdigest()


class ConfigStore:
    """Configuration over the control account's tables; raises NotFoundError / ConflictError /
    PreconditionFailedError / UpstreamError from shared.errors."""

    def __init__(self, control: StorageAccount, *, legacy_tenant: str = "") -> None:
        self._account = control
        # The tenant of rows written before organisations carried one ("": such rows are nobody's).
        self._legacy_tenant = legacy_tenant

    def _table(self, name: str) -> Table:
        return self._account.table(name)

    # --- organisations -------------------------------------------------------------------------

    def get_organisation(self, org_id: str) -> Organisation:
        """Raises NotFoundError."""
        return self.read_organisation(org_id).value

    def read_organisation(self, org_id: str) -> Versioned[Organisation]:
        stored = _get(self._table("organisations"), ORG_PARTITION, org_id, "organisation")
        return Versioned(_organisation(stored.entity, self._legacy_tenant), stored.etag)

    def list_organisations(self, tenant_id: str) -> list[Versioned[Organisation]]:
        """The organisations of one tenant (a handful of rows in one partition, filtered here)."""
        return [org for org in self.list_every_organisation() if org.value.tenant_id == tenant_id]

    def list_every_organisation(self) -> list[Versioned[Organisation]]:
        """Every tenant's organisations: for the timer's own work, never for a caller."""
        rows = self._table("organisations").list_partition(ORG_PARTITION)
        return [Versioned(_organisation(row.entity, self._legacy_tenant), row.etag) for row in rows]

    def create_organisation(self, org: Organisation) -> Versioned[Organisation]:
        etag = self._table("organisations").create(_organisation_entity(org))
        return Versioned(org, etag)

    def replace_organisation(self, org: Organisation, etag: str) -> Versioned[Organisation]:
        """Raises PreconditionFailedError when it changed since `etag` was read."""
        return Versioned(org, self._table("organisations").replace(_organisation_entity(org), etag))

    # --- endpoints -----------------------------------------------------------------------------

    def get_endpoint(self, endpoint_id: str) -> Endpoint:
        """One point read. Raises NotFoundError."""
        return self.read_endpoint(endpoint_id).value

    def read_endpoint(self, endpoint_id: str) -> Versioned[Endpoint]:
        """Raises NotFoundError, at once for an id that cannot exist (Azure Tables would refuse some as keys)."""
        if not is_endpoint_id(endpoint_id):
            raise NotFoundError("No such endpoint.")
        stored = _get(self._table("endpoints"), endpoint_id, "endpoint", "endpoint")
        return Versioned(_endpoint(stored.entity, self._legacy_tenant), stored.etag)

    def find_endpoint_by_url(self, fhir_base_url: str) -> Endpoint:
        """The endpoint of an already normalised FHIR base URL: two point reads. Raises NotFoundError."""
        index = _get(self._table("endpointurls"), url_key(fhir_base_url), "url", "endpoint")
        return self.get_endpoint(index.entity["endpoint_id"])

    def list_endpoints(self, org_id: str) -> list[Versioned[Endpoint]]:
        ids = [row.entity["RowKey"] for row in self._table("orgendpoints").list_partition(org_id)]
        found = []
        for endpoint_id in ids:
            try:
                found.append(self.read_endpoint(endpoint_id))
            except NotFoundError:
                continue  # an index row whose endpoint write failed: not an endpoint
        return found

    def create_endpoint(self, endpoint: Endpoint) -> Versioned[Endpoint]:
        """Raises ConflictError when the URL is registered already."""
        self._claim_url(endpoint.fhir_base_url, endpoint.id)
        etag = self._table("endpoints").create(_endpoint_entity(endpoint))
        self._table("orgendpoints").upsert({"PartitionKey": endpoint.org_id, "RowKey": endpoint.id})
        return Versioned(endpoint, etag)

    def replace_endpoint(self, endpoint: Endpoint, etag: str, *, old_url: str) -> Versioned[Endpoint]:
        """Conditional replace; a changed URL claims the new one first.

        Raises ConflictError (URL taken), PreconditionFailedError (changed since `etag`).
        """
        if endpoint.fhir_base_url != old_url:
            self._claim_url(endpoint.fhir_base_url, endpoint.id)
        try:
            new_etag = self._table("endpoints").replace(_endpoint_entity(endpoint), etag)
        except Exception:
            if endpoint.fhir_base_url != old_url:
                self._table("endpointurls").delete(url_key(endpoint.fhir_base_url), "url")
            raise
        if endpoint.fhir_base_url != old_url:
            self._table("endpointurls").delete(url_key(old_url), "url")
        return Versioned(endpoint, new_etag)

    def _claim_url(self, url: str, endpoint_id: str) -> None:
        try:
            self._table("endpointurls").create(
                {"PartitionKey": url_key(url), "RowKey": "url", "endpoint_id": endpoint_id}
            )
        except ConflictError:
            raise ConflictError("This FHIR base URL is registered already.") from None

    # --- sender keys ---------------------------------------------------------------------------

    def get_sender_keys(self, org_id: str, environment: Environment | str) -> SenderKeys:
        """One point read. Raises NotFoundError when neither a certificate nor a JWKS URL was saved."""
        stored = _get(self._table("senderkeys"), org_id, str(environment), "sender key")
        return _sender_keys(stored.entity)

    def upsert_sender_keys(self, keys: SenderKeys) -> None:
        self._table("senderkeys").upsert(_sender_keys_entity(keys))

    # --- audit ---------------------------------------------------------------------------------

    def append_audit(self, entry: AuditEntry) -> None:
        millis = int(entry.at.timestamp() * 1000)
        self._table("audit").create(
            {
                "PartitionKey": entry.org_id,
                "RowKey": f"{MAX_TIME - millis:013d}-{secrets.token_hex(4)}",
                "at": entry.at.isoformat(),
                "actor": entry.actor,
                "action": entry.action,
                "target": entry.target,
                "details": json.dumps(entry.details, sort_keys=True),
            }
        )

    def list_audit(self, org_id: str, limit: int = 200) -> list[AuditEntry]:
        entries = []
        for row in self._table("audit").list_partition(org_id):
            e = row.entity
            entries.append(
                AuditEntry(org_id, _time(e["at"]), e["actor"], e["action"], e["target"], json.loads(e["details"]))
            )
            if len(entries) >= limit:
                break
        return entries

    # --- one-time OAuth states and validations -------------------------------------------------

    def _auth_states(self) -> ExpiringTable:
        return ExpiringTable(self._table("authstates"), AUTH_STATE_SHARDS)

    def create_auth_state(self, state: str, value: AuthState) -> None:
        """Stored until used, or until the timer deletes it once `value.expires_at` has passed."""
        self._auth_states().create(
            url_key(state),
            {
                "endpoint_id": value.endpoint_id,
                "approver_id": value.approver_id,
                "version": value.version,
                "code_verifier": value.code_verifier,
                "token_endpoint": value.token_endpoint,
                "expires_at": value.expires_at.isoformat(),
                "purpose": value.purpose,
                "context": json.dumps(dict(value.context), sort_keys=True),
            },
            value.expires_at,
        )

    def take_auth_state(self, state: str, purpose: str = APPROVAL_PURPOSE) -> AuthState:
        """Read and delete a state of `purpose`, once: of concurrent callers only one succeeds.

        Raises NotFoundError when it does not exist, was used, or belongs to another purpose (then it is
        left alone), PreconditionFailedError when another caller took it between our read and our delete.
        """
        states = self._auth_states()
        try:
            stored = states.get(url_key(state))
        except NotFoundError:
            raise NotFoundError("No such sign-in state.") from None
        e = stored.entity
        if e.get("purpose", APPROVAL_PURPOSE) != purpose:
            raise NotFoundError("No such sign-in state.")
        states.delete(url_key(state), e["DeleteAfter"], etag=stored.etag)
        return AuthState(
            e["endpoint_id"],
            e.get("approver_id", ""),
            int(e["version"]),
            e["code_verifier"],
            e["token_endpoint"],
            _time(e["expires_at"]),
            purpose,
            json.loads(e.get("context") or "{}"),
        )

    def delete_expired_auth_states(self, now: datetime) -> int:
        """Delete the states nobody used before they expired; returns how many."""
        return self._auth_states().delete_due(now)

    def upsert_validation(self, validation: Validation) -> None:
        self._table("validations").upsert(
            {
                "PartitionKey": validation.endpoint_id,
                "RowKey": url_key(validation.approver_id),
                "approver_id": validation.approver_id,
                "version": validation.version,
                "validated_at": validation.validated_at.isoformat(),
            }
        )

    def get_validation(self, endpoint_id: str, approver_id: str) -> Validation:
        """Raises NotFoundError when this approver (object id) never validated this endpoint."""
        e = _get(self._table("validations"), endpoint_id, url_key(approver_id), "validation").entity
        return Validation(endpoint_id, e["approver_id"], int(e["version"]), _time(e["validated_at"]))

    # --- phone numbers and operations ----------------------------------------------------------

    def add_phone_number(self, number: PhoneNumber) -> None:
        """Record the number for its organisation, the owner index first (a half-done write routes nothing)."""
        self._table("numberowners").upsert({"PartitionKey": number.number, "RowKey": "owner", "OrgId": number.org_id})
        self._table("phonenumbers").upsert(_phone_number_entity(number))

    def list_phone_numbers(self, org_id: str) -> list[PhoneNumber]:
        return [_phone_number(org_id, r.entity) for r in self._table("phonenumbers").list_partition(org_id)]

    def get_phone_number(self, org_id: str, number: str) -> PhoneNumber:
        """Raises NotFoundError."""
        return _phone_number(org_id, _get(self._table("phonenumbers"), org_id, number, "phone number").entity)

    def upsert_phone_number(self, number: PhoneNumber) -> None:
        """Rewrite a number's row (its owner index stays): e.g. its toll-free verification state."""
        self._table("phonenumbers").upsert(_phone_number_entity(number))

    def get_phone_number_owner(self, number: str) -> str:
        """The id of the organisation that holds our sending number `number`. Raises NotFoundError."""
        return _get(self._table("numberowners"), number, "owner", "phone number").entity["OrgId"]

    def create_operation(self, operation: Operation) -> None:
        self._table("operations").create(_operation_entity(operation))

    def upsert_operation(self, operation: Operation) -> None:
        self._table("operations").upsert(_operation_entity(operation))

    def get_operation(self, operation_id: str) -> Operation:
        """Raises NotFoundError."""
        e = _get(self._table("operations"), operation_id, "operation", "operation").entity
        return Operation(
            e["PartitionKey"],
            e["org_id"],
            e["kind"],
            e["status"],
            _time(e["created_at"]),
            json.loads(e["result"]),
            e.get("error") or None,
            json.loads(e.get("progress") or "{}"),
        )


def _get(table: Table, partition_key: str, row_key: str, what: str) -> Any:
    try:
        return table.get(partition_key, row_key)
    except NotFoundError:
        raise NotFoundError(f"No such {what}.") from None


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def _organisation_entity(org: Organisation) -> dict[str, Any]:
    return {
        "PartitionKey": ORG_PARTITION,
        "RowKey": org.id,
        "name": org.name,
        "geo": org.geo,
        "display_name": org.display_name,
        "consent_send_on_behalf": org.consent_send_on_behalf,
        "consent_patients_consented": org.consent_patients_consented,
        "tenant_id": org.tenant_id,
    }


def _organisation(e: dict[str, Any], legacy_tenant: str) -> Organisation:
    return Organisation(
        id=e["RowKey"],
        name=e["name"],
        geo=e["geo"],
        display_name=e["display_name"],
        consent_send_on_behalf=bool(e.get("consent_send_on_behalf")),
        consent_patients_consented=bool(e.get("consent_patients_consented")),
        tenant_id=e.get("tenant_id") or legacy_tenant,
    )


def _endpoint_entity(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "PartitionKey": endpoint.id,
        "RowKey": "endpoint",
        "org_id": endpoint.org_id,
        "geo": endpoint.geo,
        "fhir_base_url": endpoint.fhir_base_url,
        "environment": str(endpoint.environment),
        "approver_upn": endpoint.approver_upn,
        "time_zone": endpoint.time_zone,
        "status": str(endpoint.status),
        "version": endpoint.version,
        "require_body_hash": endpoint.require_body_hash,
        "pending_reason": endpoint.pending_reason or "",
        "sms_confirmation_enabled": endpoint.sms.confirmation_enabled,
        "sms_reminders_enabled": endpoint.sms.reminders_enabled,
        "sms_reminder_lead_minutes": json.dumps(list(endpoint.sms.reminder_lead_minutes)),
        "sms_from_number": endpoint.sms.from_number or "",
        "sms_discontinuation_notice_enabled": endpoint.sms.discontinuation_notice_enabled,
        "sms_default_language": endpoint.sms.default_language,
        "sms_segment_limit": endpoint.sms.segment_limit,
        "sms_clinician_ready_enabled": endpoint.sms.clinician_ready_enabled,
        "sms_join_opens_minutes": endpoint.sms.join_opens_minutes,
        "sms_texts": json.dumps([_text_document(text) for text in endpoint.sms_texts]),
        "organizer_user_id": endpoint.organizer_user_id or "",
        "ehr_write_back": endpoint.ehr_write_back,
        "tenant_id": endpoint.tenant_id,
        "approver_object_id": endpoint.approver_object_id or "",
        "announce_entry_exit": endpoint.announce_entry_exit,
    }


def _endpoint(e: dict[str, Any], legacy_tenant: str) -> Endpoint:
    return Endpoint(
        id=e["PartitionKey"],
        org_id=e["org_id"],
        geo=e["geo"],
        fhir_base_url=e["fhir_base_url"],
        environment=Environment(e["environment"]),
        approver_upn=e["approver_upn"],
        time_zone=e["time_zone"],
        status=EndpointStatus(e["status"]),
        version=int(e["version"]),
        sms=SmsSettings(
            confirmation_enabled=bool(e.get("sms_confirmation_enabled")),
            reminders_enabled=bool(e.get("sms_reminders_enabled")),
            reminder_lead_minutes=tuple(json.loads(e.get("sms_reminder_lead_minutes") or "[]")),
            from_number=e.get("sms_from_number") or None,
            discontinuation_notice_enabled=bool(e.get("sms_discontinuation_notice_enabled")),
            default_language=e.get("sms_default_language") or DEFAULT_LANGUAGE,
            segment_limit=int(e.get("sms_segment_limit") or DEFAULT_SEGMENT_LIMIT),
            clinician_ready_enabled=bool(e.get("sms_clinician_ready_enabled")),
            join_opens_minutes=int(e.get("sms_join_opens_minutes", DEFAULT_JOIN_OPENS_MINUTES)),
        ),
        require_body_hash=bool(e.get("require_body_hash")),
        pending_reason=e.get("pending_reason") or None,
        organizer_user_id=e.get("organizer_user_id") or None,
        ehr_write_back=bool(e.get("ehr_write_back")),
        tenant_id=e.get("tenant_id") or legacy_tenant,
        approver_object_id=e.get("approver_object_id") or None,
        announce_entry_exit=bool(e.get("announce_entry_exit")),
        sms_texts=tuple(_custom_text(item) for item in json.loads(e.get("sms_texts") or "[]")),
    )


def _text_document(text: CustomText) -> dict[str, Any]:
    return {"kind": str(text.kind), "language": text.language, "department": text.department, "template": text.template}


def _custom_text(item: dict[str, Any]) -> CustomText:
    return CustomText(SmsKind(item["kind"]), item["language"], item.get("department"), item["template"])


def _sender_keys_entity(keys: SenderKeys) -> dict[str, Any]:
    def iso(value: datetime | None) -> str:
        return value.isoformat() if value else ""

    return {
        "PartitionKey": keys.org_id,
        "RowKey": str(keys.environment),
        "certificate_pem": keys.certificate_pem or "",
        "not_after": iso(keys.not_after),
        "not_before": iso(keys.not_before),
        "subject": keys.subject or "",
        "thumbprint_sha256": keys.thumbprint_sha256 or "",
        "jwks_url": keys.jwks_url or "",
    }


def _sender_keys(e: dict[str, Any]) -> SenderKeys:
    def when(name: str) -> datetime | None:
        return _time(e[name]) if e.get(name) else None

    return SenderKeys(
        org_id=e["PartitionKey"],
        environment=Environment(e["RowKey"]),
        certificate_pem=e.get("certificate_pem") or None,
        not_after=when("not_after"),
        jwks_url=e.get("jwks_url") or None,
        subject=e.get("subject") or None,
        thumbprint_sha256=e.get("thumbprint_sha256") or None,
        not_before=when("not_before"),
    )


def _phone_number_entity(number: PhoneNumber) -> dict[str, Any]:
    return {
        "PartitionKey": number.org_id,
        "RowKey": number.number,
        "provider": number.provider,
        "acquired_at": number.acquired_at.isoformat(),
        "verification": str(number.verification),
    }


def _phone_number(org_id: str, entity: dict[str, Any]) -> PhoneNumber:
    # Rows from before verification was tracked: ACS numbers are toll-free, so they wait for it.
    default = NumberVerification.NOT_REQUIRED if entity["provider"] == "sandbox" else NumberVerification.PENDING
    return PhoneNumber(
        org_id,
        entity["RowKey"],
        entity["provider"],
        _time(entity["acquired_at"]),
        entity.get("verification") or default,
    )


def _operation_entity(operation: Operation) -> dict[str, Any]:
    return {
        "PartitionKey": operation.id,
        "RowKey": "operation",
        "org_id": operation.org_id,
        "kind": operation.kind,
        "status": operation.status,
        "created_at": operation.created_at.isoformat(),
        "result": json.dumps(operation.result),
        "error": operation.error or "",
        "progress": json.dumps(operation.progress),
    }
