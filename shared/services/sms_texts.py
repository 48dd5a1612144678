"""The texts an endpoint sends patients, edited by its admins: list, change (per kind, language and department),
preview with the segment count.

A text is checked against the template rules (`shared.domain.sms_templates.check_template`) with the
organisation's own names, a link as long as the real ones, and a visit on every weekday and in every month, so
a text accepted today fits on every day of the year. A refused text changes nothing. Texts travel with the
endpoint's row (one read per HL7 message); editing them does not send an approved endpoint back for approval,
since Epic's integration records do not depend on them, but every change is in the audit log.

`preview_sms_text` is also what the portal calls.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shared.adapters.config_store import ConfigStore, Versioned
from shared.domain.access import Caller, require_admin
from shared.domain.appointment import DEFAULT_DURATION_MINUTES
from shared.domain.config import Endpoint, Organisation, check_name
from shared.domain.join_tokens import JOIN_GRACE_AFTER_END, new_token
from shared.domain.languages import check_language
from shared.domain.sms_templates import (
    BUILT_IN_LANGUAGES,
    LINK_KINDS,
    PLACEHOLDERS,
    CustomText,
    VisitFacts,
    check_template,
    choose_template,
    sample_visits,
)
from shared.domain.sms_text import SmsKind, SmsText, join_url
from shared.errors import InvalidRequestError
from shared.services.config_changes import ReadBody, check_if_match, record_change, refuse_unknown_fields
from shared.services.tenancy import read_own_endpoint

MAX_CUSTOM_TEXTS = 50
"""Texts travel as JSON in one table property (at most 32K characters): 50 of 480 characters fit."""
MAX_DEPARTMENT_LENGTH = 64
SAMPLE_LOCAL_TIME = (10, 45)
"""The previews' visit: tomorrow at 10:45 in the endpoint's zone (a two-digit hour, as most visits have)."""


@dataclass(frozen=True)
class TextPolicy:
    """Deployment values the texts need: the links' base URL and the region of the dates' locale."""

    public_base_url: str
    phone_region: str


def list_sms_texts(store: ConfigStore, caller: Caller, endpoint_id: str) -> Versioned[Endpoint]:
    """The endpoint, whose texts `sms_texts_document` shows. Raises ForbiddenError, NotFoundError."""
    require_admin(caller)
    return read_own_endpoint(store, caller, endpoint_id)


def put_sms_text(
    store: ConfigStore,
    caller: Caller,
    endpoint_id: str,
    read_body: ReadBody,
    if_match: str | None,
    now: datetime,
    *,
    policy: TextPolicy,
) -> Versioned[Endpoint]:
    """Set (or, with `template: null`, remove) the text of one kind, language and department (null: every
    department). Raises ForbiddenError, NotFoundError, InvalidRequestError, TemplateRuleError (the rule),
    PreconditionFailedError."""
    require_admin(caller)
    current = read_own_endpoint(store, caller, endpoint_id)
    document = read_body()
    refuse_unknown_fields(document, {"kind", "language", "department", "template"})
    check_if_match(if_match, current)
    endpoint = current.value
    kind, language, department = _key(document, endpoint)
    if "template" not in document:
        raise InvalidRequestError("template is required (null removes the text).")
    others = tuple(t for t in endpoint.sms_texts if (t.kind, t.language, t.department) != (kind, language, department))
    template = document["template"]
    if template is None:
        if len(others) == len(endpoint.sms_texts):
            return current
        saved = store.replace_endpoint(
            replace(endpoint, sms_texts=others), current.etag, old_url=endpoint.fhir_base_url
        )
        _audit(store, caller, endpoint, "sms_text.removed", now, kind, language, department)
        return saved
    organisation = store.get_organisation(endpoint.org_id)
    checked = _check(endpoint, organisation, kind, language, template, policy, now)
    if len(others) >= MAX_CUSTOM_TEXTS:
        raise InvalidRequestError(f"An endpoint holds at most {MAX_CUSTOM_TEXTS} edited texts; remove one first.")
    texts = (*others, CustomText(kind, language, department, template))
    saved = _save(store, current, texts)
    _audit(
        store, caller, endpoint, "sms_text.updated", now, kind, language, department,
        template=template, segments=checked.count.segments, encoding=checked.count.encoding,
    )  # fmt: skip
    return saved


def preview_sms_text(
    store: ConfigStore, caller: Caller, endpoint_id: str, read_body: ReadBody, now: datetime, *, policy: TextPolicy
) -> dict[str, Any]:
    """What a patient would receive: the `template` sent (checked against the rules), else the text in effect
    for the kind, language (default: the endpoint's) and department, filled in for a sample visit, with the
    most segments it takes on any day. Raises ForbiddenError, NotFoundError, InvalidRequestError,
    TemplateRuleError."""
    require_admin(caller)
    endpoint = read_own_endpoint(store, caller, endpoint_id).value
    document = read_body()
    refuse_unknown_fields(document, {"kind", "language", "department", "template"})
    kind, language, department = _key(document, endpoint)
    template = document.get("template")
    if template is None:
        template, language = choose_template(
            kind, language, endpoint.sms.default_language, department, endpoint.sms_texts
        )
    organisation = store.get_organisation(endpoint.org_id)
    longest = _check(endpoint, organisation, kind, language, template, policy, now)
    return {
        "kind": str(kind),
        "language": language,
        "department": department,
        "text": longest.text,
        "encoding": longest.count.encoding,
        "units": longest.count.units,
        "segments": longest.count.segments,
        "segment_limit": endpoint.sms.segment_limit,
    }


def sms_texts_document(endpoint: Endpoint) -> dict[str, Any]:
    """The texts as the API shows them, with what an editor needs to know (placeholders, languages, limit)."""
    return {
        "default_language": endpoint.sms.default_language,
        "segment_limit": endpoint.sms.segment_limit,
        "built_in_languages": list(BUILT_IN_LANGUAGES),
        "kinds": [str(kind) for kind in SmsKind],
        "placeholders": dict(PLACEHOLDERS),
        "items": [
            {"kind": str(t.kind), "language": t.language, "department": t.department, "template": t.template}
            for t in endpoint.sms_texts
        ],
    }


def _save(store: ConfigStore, current: Versioned[Endpoint], texts: tuple[CustomText, ...]) -> Versioned[Endpoint]:
    """The endpoint with `texts`, written only if nobody changed it since it was read."""
    endpoint = current.value
    return store.replace_endpoint(replace(endpoint, sms_texts=texts), current.etag, old_url=endpoint.fhir_base_url)


def _key(document: dict[str, Any], endpoint: Endpoint) -> tuple[SmsKind, str, str | None]:
    try:
        kind = SmsKind(document.get("kind"))
    except ValueError:
        raise InvalidRequestError(f"kind must be one of {', '.join(map(str, SmsKind))}.") from None
    language = check_language(document.get("language", endpoint.sms.default_language))
    department = document.get("department")
    if department is not None:
        department = check_name(department, "department", MAX_DEPARTMENT_LENGTH)
    return kind, language, department


def _check(
    endpoint: Endpoint,
    organisation: Organisation,
    kind: SmsKind,
    language: str,
    template: object,
    policy: TextPolicy,
    now: datetime,
) -> SmsText:
    zone = ZoneInfo(endpoint.time_zone)
    tomorrow = (now.astimezone(zone) + timedelta(days=1)).replace(
        hour=SAMPLE_LOCAL_TIME[0], minute=SAMPLE_LOCAL_TIME[1], second=0, microsecond=0
    )
    facts = VisitFacts(
        organisation=organisation.name,
        sender=organisation.display_name,
        start=tomorrow,
        until=tomorrow + timedelta(minutes=DEFAULT_DURATION_MINUTES) + JOIN_GRACE_AFTER_END,
        local_tz=zone,
        department="Department of Family Medicine",
        link=join_url(policy.public_base_url, new_token(endpoint.geo)) if kind in LINK_KINDS else None,
    )
    return check_template(
        kind,
        language,
        template,
        sample_visits(facts),
        region=policy.phone_region,
        segment_limit=endpoint.sms.segment_limit,
    )


def _audit(
    store: ConfigStore,
    caller: Caller,
    endpoint: Endpoint,
    action: str,
    now: datetime,
    kind: SmsKind,
    language: str,
    department: str | None,
    **details: Any,
) -> None:
    record_change(
        store, caller, endpoint.org_id, action, endpoint.id, now,
        kind=str(kind), language=language, department=department, **details,
    )  # fmt: skip
