"""The connector's configuration as the other features read it, and the pure rules for changing it.

Organisations, FHIR endpoints with their SMS settings, and the keys senders sign HL7 calls with.
These dataclasses are the stable read contract of `shared.adapters.config_store.ConfigStore`; the
rules here (URL normalisation, status after an edit, SMS settings checks) never touch storage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from shared.errors import InvalidRequestError
from shared.loopback import is_loopback

if TYPE_CHECKING:
    from shared.domain.sms_templates import CustomText


class Environment(StrEnum):
    TEST = "test"
    PRODUCTION = "production"


class EndpointStatus(StrEnum):
    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"


MIN_REMINDER_LEAD_MINUTES = 15
"""Earlier than this a reminder arrives after the patient should already be joining."""
MAX_REMINDER_LEAD_MINUTES = 14 * 24 * 60
"""Two weeks: beyond that a reminder is a second confirmation, not a reminder."""
MAX_REMINDERS = 5
DEFAULT_JOIN_OPENS_MINUTES = 30
MAX_JOIN_OPENS_MINUTES = 24 * 60
DEFAULT_LANGUAGE = "en"
DEFAULT_SEGMENT_LIMIT = 3
"""Three GSM-7 segments hold 459 characters: every built-in text with a long link, and room for edits."""
MIN_SEGMENT_LIMIT, MAX_SEGMENT_LIMIT = 1, 6
MAX_NAME_LENGTH = 100
MAX_DISPLAY_NAME_LENGTH = 40
"""SMS texts name the organisation; a long name would split every SMS into two segments."""

# Epic's FHIR bases end in .../api/FHIR/R4 (or DSTU2, STU3); other servers in /fhir[/r4].
_FHIR_PATH = re.compile(r"(/[\w.~-]+)*/(api/fhir/(r4|stu3|dstu2)|fhir(/(r4|r4b|r5|stu3|dstu2))?)", re.IGNORECASE)
_UPN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_E164 = re.compile(r"\+[1-9]\d{6,14}")
_ENDPOINT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_OBJECT_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


@dataclass(frozen=True)
class Organisation:
    id: str
    name: str
    geo: str
    display_name: str
    consent_send_on_behalf: bool = False
    consent_patients_consented: bool = False
    tenant_id: str = ""
    """The Entra tenant (`tid`) of the admin who created it: only that tenant's users act on it."""

    @property
    def sms_consented(self) -> bool:
        """Both consents given: only then may numbers and SMS settings be saved."""
        return self.consent_send_on_behalf and self.consent_patients_consented


@dataclass(frozen=True)
class SmsSettings:
    confirmation_enabled: bool = False
    reminders_enabled: bool = False
    reminder_lead_minutes: tuple[int, ...] = ()
    from_number: str | None = None
    discontinuation_notice_enabled: bool = False
    """Whether a discontinued visit (SIU S16) gets the cancellation SMS; off by default, since Epic also
    discontinues visits the patient already knows about (a series ended at the visit)."""
    default_language: str = DEFAULT_LANGUAGE
    """The texts' language when the patient's (PID-15) is unknown or has no texts at this endpoint."""
    segment_limit: int = DEFAULT_SEGMENT_LIMIT
    """The most SMS segments an edited text may take (the admin's cost cap)."""
    clinician_ready_enabled: bool = False
    """Whether a provider's launch texts a patient who has not joined yet that the clinician is ready."""
    join_opens_minutes: int = DEFAULT_JOIN_OPENS_MINUTES
    """How long before the start the join link opens the meeting; earlier it shows a waiting page."""


@dataclass(frozen=True)
class Endpoint:
    id: str
    org_id: str
    geo: str
    fhir_base_url: str
    environment: Environment
    approver_upn: str
    time_zone: str
    status: EndpointStatus
    version: int
    sms: SmsSettings = field(default_factory=SmsSettings)
    require_body_hash: bool = False
    pending_reason: str | None = None
    organizer_user_id: str | None = None
    """The Teams user (Entra object id or UPN) who organises the endpoint's visit meetings; None: the
    launching provider's own Microsoft 365 user does."""
    ehr_write_back: bool = False
    """Whether visit events, device-test results and undelivered SMS are written back to this endpoint's EHR."""
    tenant_id: str = ""
    """The organisation's Entra tenant, copied like `geo`: scoping and the provider's sign-in authority."""
    approver_object_id: str | None = None
    """The approver's Entra object id, pinned at their first sign-in (matched by tenant + `approver_upn`);
    None until then, and again after an admin names another approver."""
    announce_entry_exit: bool = False
    """Whether Teams announces people joining and leaving this endpoint's visit meetings."""
    sms_texts: tuple[CustomText, ...] = ()
    """The admin's edited texts (`shared.domain.sms_templates`); built-in texts fill every gap."""


@dataclass(frozen=True)
class SenderKeys:
    """What the HL7 ingress verifies a sender's JWT with: an uploaded certificate and/or a JWKS URL."""

    org_id: str
    environment: Environment
    certificate_pem: str | None = None
    not_after: datetime | None = None
    jwks_url: str | None = None
    subject: str | None = None
    thumbprint_sha256: str | None = None
    not_before: datetime | None = None


@dataclass(frozen=True)
class AuditEntry:
    """One change: who made it, when, to what, and a summary without secrets or patients' numbers."""

    org_id: str
    at: datetime
    actor: str
    action: str
    target: str
    details: dict[str, object] = field(default_factory=dict)


def is_endpoint_id(value: str) -> bool:
    """Whether `value` could be an endpoint id: ours are `ep_` + URL-safe Base64, so anything else (a `/`,
    `%`, control characters, a kilobyte of text) names no endpoint and needs no storage call to say so."""
    return bool(_ENDPOINT_ID.fullmatch(value))


def normalise_fhir_base_url(url: str, *, loopback_http: bool = False) -> str:
    """The canonical form of a FHIR base URL: https, lower-case host, no default port, no trailing slash.

    Two spellings of one server compare equal after this (the SMART launch matches `iss` with it).
    With `loopback_http` (setting LOOPBACK_HTTP, local runs) a server on 127.0.0.1/localhost may use http.
    Raises InvalidRequestError saying why the URL is not acceptable.
    """
    if not isinstance(url, str) or not url.strip():
        raise InvalidRequestError("fhir_base_url is required.")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise InvalidRequestError("fhir_base_url is not a valid URL.") from exc
    scheme = parts.scheme.lower()
    if not parts.hostname:
        raise InvalidRequestError("fhir_base_url has no host.")
    local_http = scheme == "http" and loopback_http and is_loopback(parts.hostname.lower())
    if scheme != "https" and not local_http:
        raise InvalidRequestError("fhir_base_url must use https://.")
    if parts.username or parts.password:
        raise InvalidRequestError("fhir_base_url must not contain credentials.")
    if parts.query or parts.fragment:
        raise InvalidRequestError("fhir_base_url must not have a query or fragment.")
    path = re.sub(r"/{2,}", "/", parts.path).rstrip("/")
    if not _FHIR_PATH.fullmatch(path):
        raise InvalidRequestError("fhir_base_url must end in a FHIR API path such as /api/FHIR/R4 (Epic) or /fhir/r4.")
    host = parts.hostname.lower()
    netloc = host if port in (None, 443 if scheme == "https" else 80) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, path, "", ""))


def normalise_https_url(url: object, field_name: str) -> str:
    """An absolute https URL without credentials or fragment; raises InvalidRequestError naming the field."""
    if not isinstance(url, str) or len(url) > 2048:
        raise InvalidRequestError(f"{field_name} must be an https:// URL.")
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - parsing the port validates it
    except ValueError as exc:
        raise InvalidRequestError(f"{field_name} is not a valid URL.") from exc
    if parts.scheme.lower() != "https" or not parts.hostname or parts.username or parts.fragment:
        raise InvalidRequestError(f"{field_name} must be an https:// URL without credentials or fragment.")
    return urlunsplit(("https", parts.netloc.lower(), parts.path, parts.query, ""))


def check_name(value: object, field_name: str, limit: int) -> str:
    """A trimmed, non-empty, printable text of at most `limit` characters; raises InvalidRequestError."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequestError(f"{field_name} is required and must be text.")
    value = value.strip()
    if len(value) > limit or not value.isprintable():
        raise InvalidRequestError(f"{field_name} must be printable text of at most {limit} characters.")
    return value


def check_upn(value: object) -> str:
    """A user principal name (user@domain), lower-cased for comparison with tokens' preferred_username."""
    if not isinstance(value, str) or not _UPN.fullmatch(value.strip()) or len(value) > 256:
        raise InvalidRequestError("approver_upn must be a user principal name such as analyst@example.org.")
    return value.strip().lower()


def check_organizer(value: object) -> str | None:
    """An Entra object id (GUID, lower-cased) or a UPN, or None to let each provider organise their own visits."""
    if value is None:
        return None
    if isinstance(value, str) and _OBJECT_ID.fullmatch(value.strip()):
        return value.strip().lower()
    if isinstance(value, str) and _UPN.fullmatch(value.strip()) and len(value) <= 256:
        return value.strip().lower()
    raise InvalidRequestError(
        "organizer_user_id must be the Entra object id or user principal name of a Teams user, or null."
    )


def check_time_zone(value: object) -> str:
    """An IANA time zone name (e.g. America/Chicago); raises InvalidRequestError otherwise."""
    if not isinstance(value, str) or not value or len(value) > 64 or ".." in value or value.startswith("/"):
        raise InvalidRequestError("time_zone must be an IANA time zone such as America/Chicago.")
    import zoneinfo  # on first use: it loads sysconfig, a cold-start cost for a rare admin call

    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidRequestError(f"time_zone {value!r} is not an IANA time zone.") from exc
    return value


def check_environment(value: object) -> Environment:
    try:
        return Environment(value)
    except ValueError:
        raise InvalidRequestError("environment must be 'test' or 'production'.") from None


def check_bool(value: object, field_name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidRequestError(f"{field_name} must be true or false.")
    return value


class NumberVerification(StrEnum):
    """Whether carriers will deliver SMS from one of our numbers (toll-free verification)."""

    PENDING = "pending_verification"
    VERIFIED = "verified"
    NOT_REQUIRED = "not_required"


def check_phone_number(value: object, field_name: str = "from_number") -> str:
    """An E.164 number (+ and 7 to 15 digits); raises InvalidRequestError without echoing it."""
    if not isinstance(value, str) or not _E164.fullmatch(value):
        raise InvalidRequestError(f"{field_name} must be an E.164 phone number such as +15550100.")
    return value


def check_sms_settings(document: object) -> SmsSettings:
    """Per-endpoint SMS settings from a JSON object; raises InvalidRequestError with the reason."""
    if not isinstance(document, dict):
        raise InvalidRequestError("The SMS settings must be a JSON object.")
    known = {
        "confirmation_enabled",
        "reminders_enabled",
        "reminder_lead_minutes",
        "from_number",
        "discontinuation_notice_enabled",
        "default_language",
        "segment_limit",
        "clinician_ready_enabled",
        "join_opens_minutes",
    }
    unknown = set(document) - known
    if unknown:
        raise InvalidRequestError(f"Unknown SMS setting(s): {', '.join(sorted(unknown))}.")
    leads = document.get("reminder_lead_minutes", [])
    if not isinstance(leads, list) or not all(isinstance(m, int) and not isinstance(m, bool) for m in leads):
        raise InvalidRequestError("reminder_lead_minutes must be a list of whole minutes.")
    if any(not MIN_REMINDER_LEAD_MINUTES <= m <= MAX_REMINDER_LEAD_MINUTES for m in leads):
        raise InvalidRequestError(
            f"Each reminder lead time must be between {MIN_REMINDER_LEAD_MINUTES} and "
            f"{MAX_REMINDER_LEAD_MINUTES} minutes before the appointment."
        )
    if len(set(leads)) != len(leads) or len(leads) > MAX_REMINDERS:
        raise InvalidRequestError(f"reminder_lead_minutes must hold at most {MAX_REMINDERS} different values.")
    reminders = check_bool(document.get("reminders_enabled", False), "reminders_enabled")
    if reminders and not leads:
        raise InvalidRequestError("reminders_enabled needs at least one reminder lead time.")
    confirmation = check_bool(document.get("confirmation_enabled", False), "confirmation_enabled")
    discontinuation = check_bool(
        document.get("discontinuation_notice_enabled", False), "discontinuation_notice_enabled"
    )
    if discontinuation and not confirmation:
        raise InvalidRequestError("discontinuation_notice_enabled needs confirmation_enabled.")
    number = document.get("from_number")
    if number is not None:
        number = check_phone_number(number)
    from shared.domain.languages import check_language  # not at import: indexing the app reads this module

    ready = check_bool(document.get("clinician_ready_enabled", False), "clinician_ready_enabled")
    if (confirmation or reminders or ready) and number is None:
        raise InvalidRequestError("from_number is required when confirmation, reminder or ready SMS are enabled.")
    return SmsSettings(
        confirmation,
        reminders,
        tuple(sorted(leads, reverse=True)),
        number,
        discontinuation,
        default_language=check_language(document.get("default_language", DEFAULT_LANGUAGE), "default_language"),
        segment_limit=_whole(
            document.get("segment_limit", DEFAULT_SEGMENT_LIMIT), "segment_limit", MIN_SEGMENT_LIMIT, MAX_SEGMENT_LIMIT
        ),
        clinician_ready_enabled=ready,
        join_opens_minutes=_whole(
            document.get("join_opens_minutes", DEFAULT_JOIN_OPENS_MINUTES),
            "join_opens_minutes",
            0,
            MAX_JOIN_OPENS_MINUTES,
        ),
    )


def _whole(value: object, field_name: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidRequestError(f"{field_name} must be a whole number from {low} to {high}.")
    return value


def sms_settings_document(sms: SmsSettings) -> dict[str, object]:
    """The SMS settings as the API shows them and `check_sms_settings` reads them (no patient data)."""
    return {
        "confirmation_enabled": sms.confirmation_enabled,
        "reminders_enabled": sms.reminders_enabled,
        "reminder_lead_minutes": list(sms.reminder_lead_minutes),
        "from_number": sms.from_number,
        "discontinuation_notice_enabled": sms.discontinuation_notice_enabled,
        "default_language": sms.default_language,
        "segment_limit": sms.segment_limit,
        "clinician_ready_enabled": sms.clinician_ready_enabled,
        "join_opens_minutes": sms.join_opens_minutes,
    }


def status_after_admin_change(status: EndpointStatus) -> EndpointStatus:
    """Any admin change to an approved endpoint sends it back for approval; draft and pending stay."""
    return EndpointStatus.PENDING_APPROVAL if status is EndpointStatus.APPROVED else status
