"""`/api/portal/...`: the configuration portal for admins, approvers and report readers, in a browser.

Each page calls the same services as the configuration API (`shared.triggers.config_api`) with the
session's caller, so both enforce one set of rules; a form becomes the JSON object the API would read,
built only when the service asks for it (after authorisation). Sign-in: `shared.services.portal_sign_in`.
The order of the pages follows the set-up: organisation -> URL -> SMS -> certificate -> approval -> records.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import azure.functions as func

from shared import bootstrap
from shared.errors import ForbiddenError, InvalidRequestError, NotAuthorisedError, NotFoundError
from shared.lazy import lazy_import
from shared.triggers.config_documents import (
    audit_document,
    endpoint_document,
    operation_document,
    organisation_document,
    phone_number_document,
    sender_keys_document,
)
from shared.triggers.http import HttpBlueprint
from shared.triggers.portal_web import (
    SIGN_IN_COOKIE,
    SIGN_IN_MAX_AGE,
    asset,
    back_to,
    form_of,
    now,
    portal_page,
    render,
    require_own_sign_in,
    see_other,
    session_cookie,
    session_id_of,
    session_of,
)

if TYPE_CHECKING:
    from shared.adapters.config_store import ConfigStore
    from shared.adapters.portal_sessions import PortalSession
    from shared.services.reports import ReportKind, ReportPage

access = lazy_import("shared.domain.access")
approval = lazy_import("shared.services.approval")
audit_log = lazy_import("shared.services.audit_log")
certificates = lazy_import("shared.domain.certificates")
charts = lazy_import("shared.domain.report_charts")
endpoints = lazy_import("shared.services.endpoints")
integration_records = lazy_import("shared.services.integration_records")
organisations = lazy_import("shared.services.organisations")
phone_numbers = lazy_import("shared.services.phone_numbers")
portal_sign_in = lazy_import("shared.services.portal_sign_in")
record_texts = lazy_import("shared.domain.integration_records")
report_texts = lazy_import("shared.domain.reports")
reports = lazy_import("shared.services.reports")
sender_keys = lazy_import("shared.services.sender_keys")
sms_text = lazy_import("shared.domain.sms_text")
sms_texts = lazy_import("shared.services.sms_texts")

bp = HttpBlueprint()
ANONYMOUS = func.AuthLevel.ANONYMOUS
SIGN_IN_CALLBACK_ROUTE = "portal/signin/callback"
REPORT_PAGE_SIZE = 50


def sign_in_redirect_uri() -> str:
    """Register this on the Entra app registration as a Web redirect URI, exactly as written."""
    return f"{bootstrap.get_settings().public_base_url}/api/{SIGN_IN_CALLBACK_ROUTE}"


def store() -> ConfigStore:
    return bootstrap.get_config_store()


# --- sign-in -------------------------------------------------------------------------------------


@bp.route(route="portal/signin", methods=["GET"], auth_level=ANONYMOUS)
@portal_page
def start_portal_sign_in(req: func.HttpRequest) -> func.HttpResponse:
    """`?tenant=` picks which allowed tenant's authority to sign in at (only a choice of login page)."""
    allowed = sorted(bootstrap.get_settings().require_entra().allowed_tenants)
    tenant = req.params.get("tenant", "").lower()
    if tenant not in allowed:
        if len(allowed) > 1:
            return render("signin.html", None, tenants=allowed)
        tenant = allowed[0]
    started = portal_sign_in.start_sign_in(
        store(), bootstrap.get_token_validator(), tenant, sign_in_redirect_uri(), now()
    )
    bound = session_cookie(started.state, SIGN_IN_MAX_AGE, SIGN_IN_COOKIE)
    return func.HttpResponse(
        status_code=302,
        headers={"Location": started.authorize_url, "Cache-Control": "no-store", "Set-Cookie": bound},
    )


@bp.route(route=SIGN_IN_CALLBACK_ROUTE, methods=["GET"], auth_level=ANONYMOUS)
@portal_page
def complete_portal_sign_in(req: func.HttpRequest) -> func.HttpResponse:
    if req.params.get("error"):
        raise InvalidRequestError("Microsoft 365 did not sign you in; please try again.")
    require_own_sign_in(req)
    try:
        session_id, _ = portal_sign_in.complete_sign_in(
            store(),
            bootstrap.get_portal_sessions(),
            bootstrap.get_token_validator(),
            req.params.get("state", ""),
            req.params.get("code", ""),
            sign_in_redirect_uri(),
            now(),
        )
    except NotAuthorisedError as error:  # a refused sign-in is said, not sent round to sign in again
        raise ForbiddenError(error.message) from error
    return back_to("", headers={"Set-Cookie": session_cookie(session_id)})  # the sign-in cookie lapses by itself


@bp.route(route="portal/signout", methods=["POST"], auth_level=ANONYMOUS)
@portal_page
def end_portal_session(req: func.HttpRequest) -> func.HttpResponse:
    form_of(req, session_of(req))
    bootstrap.get_portal_sessions().delete(session_id_of(req))
    return render("signed_out.html", None, headers={"Set-Cookie": session_cookie("", max_age=0)})


@bp.route(route="portal/assets/{name}", methods=["GET"], auth_level=ANONYMOUS)
@portal_page
def get_portal_asset(req: func.HttpRequest) -> func.HttpResponse:
    return asset(req.route_params["name"])


# --- organisations ------------------------------------------------------------------------------


@bp.route(route="portal", methods=["GET"], auth_level=ANONYMOUS)
@portal_page
def show_portal_home(req: func.HttpRequest) -> func.HttpResponse:
    """The admin's organisations; everyone's URLs (admins and report readers: all of the tenant's; an
    approver: those they approve)."""
    session = session_of(req)
    caller = session.caller
    found = organisations.list_organisations(store(), caller) if caller.is_admin else []
    mine = [e.value for e in endpoints.list_my_endpoints(store(), caller)]
    return render(
        "home.html",
        session,
        organisations=[organisation_document(o.value) for o in found],
        endpoints=[endpoint_document(e) for e in mine],
        openable={e.id for e in mine if caller.is_admin or access.is_approver(caller, e)},
        geos=bootstrap.get_settings().geos,
    )


@bp.route(route="portal/organisations", methods=["POST"], auth_level=ANONYMOUS)
@portal_page
def create_portal_organisation(req: func.HttpRequest) -> func.HttpResponse:
    session = session_of(req)
    form = form_of(req, session)
    body = {"name": form.get("name", ""), "display_name": form.get("display_name", ""), "geo": form.get("geo", "")}
    org = organisations.create_organisation(store(), session.caller, lambda: body, bootstrap.get_settings().geos, now())
    return back_to(f"/organisations/{org.value.id}", "created")


@bp.route(route="portal/organisations/{orgId}", methods=["GET"], auth_level=ANONYMOUS)
@portal_page
def show_portal_organisation(req: func.HttpRequest) -> func.HttpResponse:
    session = session_of(req)
    org_id = req.route_params["orgId"]
    org = organisations.get_organisation(store(), session.caller, org_id).value
    return render(
        "organisation.html",
        session,
        org=organisation_document(org),
        endpoints=[endpoint_document(e.value) for e in endpoints.list_endpoints(store(), session.caller, org_id)],
        numbers=[phone_number_document(n) for n in phone_numbers.list_phone_numbers(store(), session.caller, org_id)],
        keys={env: _sender_keys(session, org_id, env) for env in ("test", "production")},
        notice=req.params.get("notice", ""),
    )


def _sender_keys(session: PortalSession, org_id: str, environment: str) -> dict[str, Any] | None:
    try:
        return sender_keys_document(sender_keys.get_sender_keys(store(), session.caller, org_id, environment))
    except NotFoundError:
        return None


@bp.route(route="portal/organisations/{orgId}", methods=["POST"], auth_level=ANONYMOUS)
@portal_page
def update_portal_organisation(req: func.HttpRequest) -> func.HttpResponse:
    """The two SMS consents (checkboxes: a box left unticked withdraws that consent)."""
    session = session_of(req)
    org_id = req.route_params["orgId"]
    form = form_of(req, session)
    body = {name: name in form for name in ("consent_send_on_behalf", "consent_patients_consented")}
    organisations.update_organisation(store(), session.caller, org_id, lambda: body, None, now())
    return back_to(f"/organisations/{org_id}", "saved")


@bp.route(route="portal/organisations/{orgId}/endpoints", methods=["POST"], auth_level=ANONYMOUS)
@portal_page
def create_portal_endpoint(req: func.HttpRequest) -> func.HttpResponse:
    session = session_of(req)
    form = form_of(req, session)
    names = ("fhir_base_url", "environment", "approver_upn", "time_zone", "organizer_user_id")
    body = {name: form[name].strip() for name in names if form.get(name, "").strip()}
    endpoint = endpoints.create_endpoint(
        store(),
        session.caller,
        req.route_params["orgId"],
        lambda: body,
        now(),
        loopback_http=bootstrap.get_settings().loopback_http,
    )
    return back_to(f"/endpoints/{endpoint.value.id}", "created")


@bp.route(route="portal/organisations/{orgId}/phone-numbers", methods=["POST"], auth_level=ANONYMOUS)
@portal_page
def order_portal_phone_number(req: func.HttpRequest) -> func.HttpResponse:
    """ "Generate a new phone number": the order runs in the background; its page shows the progress."""
    session = session_of(req)
    form = form_of(req, session)
    operation = phone_numbers.order_phone_number(
        store(),
        bootstrap.get_phone_number_orders(),
        bootstrap.get_phone_number_provider(),
        session.caller,
        req.route_params["orgId"],
        lambda: {"country_code": form.get("country_code", "US")},
        now(),
    )
    return back_to(f"/operations/{operation.id}")


@bp.route(route="portal/organisations/{orgId}/phone-numbers/verification", methods=["POST"], auth_level=ANONYMOUS)
@portal_page
def record_portal_toll_free_verification(req: func.HttpRequest) -> func.HttpResponse:
    """The admin records that a number passed (or has not passed) toll-free verification (Azure portal)."""
    session = session_of(req)
    org_id = req.route_params["orgId"]
    form = form_of(req, session)
    phone_numbers.record_toll_free_verification(
        store(),
        session.caller,
        org_id,
        form.get("number", ""),
        lambda: {"verified": form.get("verified") == "true"},
        now(),
    )
    return back_to(f"/organisations/{org_id}", "verification-recorded")


@bp.route(route="portal/operations/{operationId}", methods=["GET"], auth_level=ANONYMOUS)
@portal_page
def show_portal_operation(req: func.HttpRequest) -> func.HttpResponse:
    """The order's progress; refreshes itself while it runs, so a reload (or a closed tab) loses nothing."""
    session = session_of(req)
    operation = phone_numbers.get_operation(store(), session.caller, req.route_params["operationId"])
    return render("operation.html", session, operation=operation_document(operation), org_id=operation.org_id)


@bp.route(route="portal/organisations/{orgId}/sender-keys", methods=["POST"], auth_level=ANONYMOUS)
@portal_page
def put_portal_sender_keys(req: func.HttpRequest) -> func.HttpResponse:
    """`action=check` shows the certificate's subject, thumbprint and expiry; `action=save` saves it."""
    session = session_of(req)
    org_id = req.route_params["orgId"]
    form = form_of(req, session)
    environment = form.get("environment", "test")
    body = {name: form[name].strip() for name in ("certificate", "jwks_url") if form.get(name, "").strip()}
    if form.get("action") == "check":
        organisations.get_organisation(store(), session.caller, org_id)  # an admin of its tenant only
        parsed = certificates.parse_certificate(body.get("certificate"), now())
        return render("certificate.html", session, org_id=org_id, environment=environment, form=body, parsed=parsed)
    sender_keys.put_sender_keys(store(), session.caller, org_id, environment, lambda: body, now())
    return back_to(f"/organisations/{org_id}", "certificate-saved")


@bp.route(route="portal/organisations/{orgId}/audit", methods=["GET"], auth_level=ANONYMOUS)
@portal_page
def show_portal_audit_log(req: func.HttpRequest) -> func.HttpResponse:
    session = session_of(req)
    org_id = req.route_params["orgId"]
    entries = [audit_document(e) for e in audit_log.list_audit(store(), session.caller, org_id)]
    return render("audit.html", session, org_id=org_id, entries=entries)


# --- endpoints: SMS, approval, records -----------------------------------------------------------


@bp.route(route="portal/endpoints/{endpointId}", methods=["GET"], auth_level=ANONYMOUS)
@portal_page
def show_portal_endpoint(req: func.HttpRequest) -> func.HttpResponse:
    session = session_of(req)
    current = endpoints.get_endpoint(store(), session.caller, req.route_params["endpointId"])
    endpoint = current.value
    admin = session.caller.is_admin
    org = store().get_organisation(endpoint.org_id)
    numbers = phone_numbers.list_phone_numbers(store(), session.caller, org.id) if admin else []
    return render(
        "endpoint.html",
        session,
        endpoint=endpoint_document(endpoint),
        etag=current.http_etag,
        is_admin=admin,
        is_approver=access.is_approver(session.caller, endpoint),
        numbers=[n.number for n in numbers],
        previews=_previews(session, endpoint.id) if admin else [],
        notice=req.params.get("notice", ""),
    )


def _previews(session: PortalSession, endpoint_id: str) -> list[dict[str, Any]]:
    """Each kind's text in effect, as the configuration API's preview gives it (one service, one set of rules)."""
    settings = bootstrap.get_settings()
    policy = sms_texts.TextPolicy(settings.public_base_url, settings.default_phone_region)
    return [
        sms_texts.preview_sms_text(
            store(), session.caller, endpoint_id, lambda kind=kind: {"kind": str(kind)}, now(), policy=policy
        )
        for kind in sms_text.SmsKind
    ]


@bp.route(route="portal/endpoints/{endpointId}/sms", methods=["POST"], auth_level=ANONYMOUS)
@portal_page
def put_portal_sms_settings(req: func.HttpRequest) -> func.HttpResponse:
    session = session_of(req)
    endpoint_id = req.route_params["endpointId"]
    form = form_of(req, session)

    def body() -> dict[str, Any]:
        return {
            "confirmation_enabled": "confirmation_enabled" in form,
            "reminders_enabled": "reminders_enabled" in form,
            "reminder_lead_minutes": _minutes(form.get("reminder_lead_minutes", "")),
            "from_number": form.get("from_number") or None,
        }

    endpoints.put_sms_settings(store(), session.caller, endpoint_id, body, form.get("etag") or None, now())
    return back_to(f"/endpoints/{endpoint_id}", "saved")


@bp.route(route="portal/endpoints/{endpointId}", methods=["POST"], auth_level=ANONYMOUS)
@portal_page
def update_portal_endpoint(req: func.HttpRequest) -> func.HttpResponse:
    """The URL's approver, time zone and meeting organiser (conditional on the version the page showed)."""
    session = session_of(req)
    endpoint_id = req.route_params["endpointId"]
    form = form_of(req, session)

    def body() -> dict[str, Any]:
        changes: dict[str, Any] = {name: form.get(name, "").strip() for name in ("approver_upn", "time_zone")}
        changes["organizer_user_id"] = form.get("organizer_user_id", "").strip() or None
        return {**changes, **({"reason": form["reason"].strip()} if form.get("reason", "").strip() else {})}

    endpoints.update_endpoint(
        store(),
        session.caller,
        endpoint_id,
        body,
        form.get("etag") or None,
        now(),
        loopback_http=bootstrap.get_settings().loopback_http,
    )
    return back_to(f"/endpoints/{endpoint_id}", "saved")


def _minutes(text: str) -> list[int]:
    """ "1440, 60" -> [1440, 60]. Raises InvalidRequestError naming what is not a whole number."""
    parts = [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
    if not all(part.isascii() and part.isdigit() for part in parts):
        raise InvalidRequestError("Reminder lead times must be whole minutes separated by commas, e.g. 1440, 60.")
    return [int(part) for part in parts]


@bp.route(route="portal/endpoints/{endpointId}/submit", methods=["POST"], auth_level=ANONYMOUS)
@portal_page
def submit_portal_endpoint(req: func.HttpRequest) -> func.HttpResponse:
    session = session_of(req)
    endpoint_id = req.route_params["endpointId"]
    form_of(req, session)
    endpoints.submit_endpoint(store(), session.caller, endpoint_id, now())
    return back_to(f"/endpoints/{endpoint_id}", "submitted")


@bp.route(route="portal/endpoints/{endpointId}/validation", methods=["POST"], auth_level=ANONYMOUS)
@portal_page
def start_portal_epic_validation(req: func.HttpRequest) -> func.HttpResponse:
    """ "Sign in with Epic": Epic sends the approver back to the config API's callback, which returns them
    here (a browser asks for HTML)."""
    from shared.triggers.config_approval import redirect_uri

    session = session_of(req)
    form = form_of(req, session)
    started = approval.start_validation(
        store(),
        bootstrap.get_smart_client(),
        session.caller,
        req.route_params["endpointId"],
        redirect_uri(),
        now(),
        expected_version=_version(form),
    )
    return see_other(started.authorize_url)


def _version(form: dict[str, str]) -> int:
    """The configuration version the approver's page showed; 0 (no version is) when the form lacks it, so
    the service refuses it once it has authorised the caller."""
    text = form.get("version", "")
    return int(text) if text.isascii() and text.isdigit() else 0


@bp.route(route="portal/endpoints/{endpointId}/approve", methods=["POST"], auth_level=ANONYMOUS)
@portal_page
def approve_portal_endpoint(req: func.HttpRequest) -> func.HttpResponse:
    session = session_of(req)
    endpoint_id = req.route_params["endpointId"]
    form = form_of(req, session)
    approval.approve(store(), session.caller, endpoint_id, now(), expected_version=_version(form))
    return back_to(f"/endpoints/{endpoint_id}", "approved")


@bp.route(route="portal/endpoints/{endpointId}/records", methods=["GET"], auth_level=ANONYMOUS)
@portal_page
def show_portal_integration_records(req: func.HttpRequest) -> func.HttpResponse:
    """Review and finish: each record with a copy button; `?download=text` gives them all as a text file."""
    session = session_of(req)
    settings = bootstrap.get_settings()
    endpoint_id = req.route_params["endpointId"]
    records = integration_records.get_integration_records(
        store(),
        session.caller,
        endpoint_id,
        public_base_url=settings.public_base_url,
        epic_client_id=settings.require_epic().client_id,
        secret=settings.require_context_token_secret(),
    )
    if req.params.get("download") == "text":
        return func.HttpResponse(
            record_texts.as_text(records),
            mimetype="text/plain",
            charset="utf-8",
            headers={
                "Cache-Control": "no-store",
                "Content-Disposition": f'attachment; filename="integration-records-{endpoint_id}.txt"',
            },
        )
    texts = {name: record_texts.as_text({name: record}) for name, record in records.items()}
    return render("records.html", session, endpoint_id=endpoint_id, texts=texts)


@bp.route(route="portal/endpoints/{endpointId}/reports", methods=["GET"], auth_level=ANONYMOUS)
@portal_page
def show_portal_report(req: func.HttpRequest) -> func.HttpResponse:
    """`?kind=sms|visits&from=&to=` (default: the last 7 days), a page of the table, CSV, and the charts."""
    session = session_of(req)
    endpoint_id = req.route_params["endpointId"]
    kind_name = "visits" if req.params.get("kind") == "visits" else "sms"
    kind = reports.VISITS if kind_name == "visits" else reports.SMS
    today = now().date()
    query = {
        "from": req.params.get("from") or (today - timedelta(days=6)).isoformat(),
        "to": req.params.get("to") or today.isoformat(),
    }
    if req.params.get("format") == "csv":
        rows = _all_rows(kind, session, endpoint_id, query)
        return func.HttpResponse(
            report_texts.to_csv(kind.columns, rows),
            mimetype="text/csv",
            charset="utf-8",
            headers={
                "Cache-Control": "no-store",
                "Content-Disposition": f'attachment; filename="{kind_name}-{query["from"]}-{query["to"]}.csv"',
            },
        )
    page = _report_page(kind, session, endpoint_id, {**query, "continuation": req.params.get("continuation", "")})
    rows = _all_rows(kind, session, endpoint_id, query)
    chart = charts.sms_chart(rows) if kind_name == "sms" else charts.visits_chart(rows)
    return render("report.html", session, endpoint_id=endpoint_id, kind=kind_name, query=query, page=page, chart=chart)


def _report_page(
    kind: ReportKind, session: PortalSession, endpoint_id: str, query: dict[str, str], limit: int = 0
) -> ReportPage:
    params = {name: value for name, value in query.items() if value}
    return reports.endpoint_report(
        kind,
        store(),
        bootstrap.get_storage(),
        session.caller,
        endpoint_id,
        {**params, "limit": str(limit or REPORT_PAGE_SIZE)},
    )


def _all_rows(
    kind: ReportKind, session: PortalSession, endpoint_id: str, query: dict[str, str]
) -> list[dict[str, Any]]:
    """Every row of the range (at most 31 days), page by page as the report service reads them."""
    rows: list[dict[str, Any]] = []
    continuation = ""
    while True:
        page = _report_page(
            kind, session, endpoint_id, {**query, "continuation": continuation}, report_texts.MAX_PAGE_SIZE
        )
        rows.extend(page.items)
        if not page.continuation:
            return rows
        continuation = page.continuation
