"""The SMS job for a notice about an appointment: confirmation (scheduled, updated, cancelled), reminder, or
"your clinician is ready" — in the patient's language, with the endpoint's (or department's) texts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from shared.domain.appointment import Appointment
from shared.domain.config import DEFAULT_LANGUAGE, Endpoint, EndpointStatus, Organisation
from shared.domain.join_tokens import JOIN_GRACE_AFTER_END
from shared.domain.schedule import job_id
from shared.domain.sms_job import SmsJob
from shared.domain.sms_templates import VisitFacts, choose_template, render_text
from shared.domain.sms_text import SmsKind, join_url
from shared.settings import DEFAULT_REPORTING_PERIOD_DAYS

READY_VERSION = 0
"""The "clinician is ready" SMS is one per visit, whatever its reschedules: its job id ignores the version."""


@dataclass(frozen=True)
class NoticePolicy:
    """Deployment-wide values the notices need (from settings)."""

    public_base_url: str
    phone_region: str
    purge_grace: timedelta
    reporting_period: timedelta = timedelta(days=DEFAULT_REPORTING_PERIOD_DAYS)
    """How long an appointment's row (times and status, no contact data) outlives its purge."""


def sms_job_for(
    endpoint: Endpoint,
    organisation: Organisation,
    appointment_key: str,
    appointment: Appointment,
    kind: SmsKind,
    phone: str | None,
    policy: NoticePolicy,
    *,
    lead_minutes: int = 0,
) -> tuple[SmsJob | None, str]:
    """The job to queue, or None and why not (a reason without patient data, for the log)."""
    if endpoint.status is not EndpointStatus.APPROVED:
        return None, f"endpoint not approved ({endpoint.status})"
    if not _enabled(endpoint, kind):
        return None, f"{kind} SMS switched off for the endpoint"
    if not endpoint.sms.from_number:
        return None, "no sending number linked to the endpoint"
    if phone is None:
        return None, "no valid patient phone number"
    if appointment.start is None:
        return None, "no appointment time"
    link = None
    if kind is not SmsKind.CANCELLED:
        if appointment.join_token is None:
            return None, "no join link"
        link = join_url(policy.public_base_url, appointment.join_token)
    template, language = choose_template(
        kind, appointment.language, endpoint.sms.default_language, appointment.department_id, endpoint.sms_texts
    )
    facts = VisitFacts(
        organisation=organisation.name,
        sender=organisation.display_name,
        start=appointment.start,
        until=(appointment.end or appointment.start) + JOIN_GRACE_AFTER_END,
        local_tz=ZoneInfo(endpoint.time_zone),
        department=appointment.department_name or "",
        link=link,
    )
    limit = endpoint.sms.segment_limit
    try:
        text = render_text(template, language, facts, region=policy.phone_region, segment_limit=limit)
    except ValueError:
        # An edited text checked against a higher limit than today's: the language's built-in text still fits.
        built_in, language = choose_template(kind, language, DEFAULT_LANGUAGE, None, ())
        try:
            text = render_text(built_in, language, facts, region=policy.phone_region, segment_limit=limit)
        except ValueError:
            return None, f"the {kind} text does not fit {limit} segments with its link"
    version = READY_VERSION if kind is SmsKind.READY else appointment.schedule_version
    job = SmsJob(
        job_id=job_id(endpoint.id, appointment_key, kind, version, lead_minutes),
        endpoint_id=endpoint.id,
        appointment_key=appointment_key,
        kind=kind,
        from_number=endpoint.sms.from_number,
        to_number=phone,
        text=text.text,
        language=text.language,
        segments=text.count.segments,
    )
    return job, "queued"


def _enabled(endpoint: Endpoint, kind: SmsKind) -> bool:
    if kind is SmsKind.REMINDER:
        return endpoint.sms.reminders_enabled
    if kind is SmsKind.READY:
        return endpoint.sms.clinician_ready_enabled
    return endpoint.sms.confirmation_enabled
