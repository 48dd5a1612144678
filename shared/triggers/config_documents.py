"""The JSON shapes of the configuration API's resources (the OpenAPI document describes the same)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.lazy import lazy_import

# Loaded on the first document built, not at indexing (cold start: tests/unit/test_cold_start.py).
config = lazy_import("shared.domain.config")

if TYPE_CHECKING:
    from shared.adapters.config_store import Operation, PhoneNumber, Versioned
    from shared.domain.config import AuditEntry, Endpoint, Organisation, SenderKeys


def organisation_document(org: Organisation) -> dict[str, Any]:
    return {
        "id": org.id,
        "name": org.name,
        "geo": org.geo,
        "tenant_id": org.tenant_id,
        "display_name": org.display_name,
        "consent_send_on_behalf": org.consent_send_on_behalf,
        "consent_patients_consented": org.consent_patients_consented,
    }


def endpoint_document(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "org_id": endpoint.org_id,
        "geo": endpoint.geo,
        "fhir_base_url": endpoint.fhir_base_url,
        "environment": str(endpoint.environment),
        "approver_upn": endpoint.approver_upn,
        "approver_object_id": endpoint.approver_object_id,
        "time_zone": endpoint.time_zone,
        "status": str(endpoint.status),
        "pending_reason": endpoint.pending_reason,
        "version": endpoint.version,
        "require_body_hash": endpoint.require_body_hash,
        "organizer_user_id": endpoint.organizer_user_id,
        "ehr_write_back": endpoint.ehr_write_back,
        "announce_entry_exit": endpoint.announce_entry_exit,
        "sms": config.sms_settings_document(endpoint.sms),
    }


def sender_keys_document(keys: SenderKeys) -> dict[str, Any]:
    """What an admin sees of an uploaded certificate: never needed to be secret, but the PEM is left out."""
    certificate = None
    if keys.certificate_pem:
        certificate = {
            "subject": keys.subject,
            "thumbprint_sha256": keys.thumbprint_sha256,
            "not_before": keys.not_before.isoformat() if keys.not_before else None,
            "not_after": keys.not_after.isoformat() if keys.not_after else None,
        }
    return {
        "org_id": keys.org_id,
        "environment": str(keys.environment),
        "certificate": certificate,
        "jwks_url": keys.jwks_url,
    }


def audit_document(entry: AuditEntry) -> dict[str, Any]:
    return {
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "details": entry.details,
    }


def phone_number_document(number: PhoneNumber) -> dict[str, Any]:
    return {
        "number": number.number,
        "provider": number.provider,
        "acquired_at": number.acquired_at.isoformat(),
        "verification": str(number.verification),
    }


def operation_document(operation: Operation) -> dict[str, Any]:
    return {
        "id": operation.id,
        "kind": operation.kind,
        "status": operation.status,
        "created_at": operation.created_at.isoformat(),
        "result": operation.result,
        "error": operation.error,
    }


def etag_header(item: Versioned[Any]) -> dict[str, str]:
    return {"ETag": item.http_etag}
