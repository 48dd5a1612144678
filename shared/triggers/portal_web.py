"""What every portal page shares: the session cookie, CSRF checks on forms, Jinja2 templates, error pages.

The browser holds only an HttpOnly, SameSite=Lax session cookie (Secure, with the `__Host-` prefix, when
the app is served over https); the session itself and the CSRF token live in the control account
(`shared.adapters.portal_sessions`). Every change is a form post carrying the session's CSRF token
(synchroniser token), compared in constant time before any service runs. Pages go through
`shared.triggers.pages.html_response`, the one place that sets a page's security headers. Jinja2 loads on
the first portal request only (cold start).
"""

from __future__ import annotations

import functools
import logging
import secrets
import uuid
from datetime import UTC, datetime
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import azure.functions as func

from shared import bootstrap
from shared.errors import ConnectorError, ForbiddenError, InvalidRequestError, NotAuthorisedError, NotFoundError
from shared.triggers.http import MAX_JSON_BODY, HttpHandler, status_of
from shared.triggers.pages import html_response, new_nonce, redirect

if TYPE_CHECKING:
    import jinja2

    from shared.adapters.portal_sessions import PortalSession

logger = logging.getLogger(__name__)

PORTAL = "/api/portal"
TEMPLATES = Path(__file__).with_name("portal_templates")
ASSETS = Path(__file__).with_name("assets")
STATUS_LABELS = {"draft": "Draft", "pending_approval": "Pending approval", "approved": "Approved"}
VERIFICATION_LABELS = {
    "pending_verification": "Awaiting toll-free verification",
    "verified": "Verified",
    "not_required": "Needs no verification",
}
SESSION_MAX_AGE = 8 * 3600


def now() -> datetime:
    return datetime.now(UTC)


def secure() -> bool:
    return bootstrap.get_settings().public_base_url.startswith("https://")


def cookie_name(what: str = "portal") -> str:
    """`__Host-` binds a cookie to our host and path `/` (browsers accept it only with Secure)."""
    return f"__Host-{what}" if secure() else f"{what}_session"


SIGN_IN_COOKIE = "portal-signin"
"""Binds a sign-in's state to the browser that started it (RFC 6749 10.12: no login CSRF)."""
SIGN_IN_MAX_AGE = 600


def session_cookie(value: str, max_age: int = SESSION_MAX_AGE, what: str = "portal") -> str:
    attributes = [f"{cookie_name(what)}={value}", "Path=/", "HttpOnly", "SameSite=Lax", f"Max-Age={max_age}"]
    if secure():
        attributes.append("Secure")
    return "; ".join(attributes)


def cookie_of(req: func.HttpRequest, what: str = "portal") -> str:
    cookies: SimpleCookie = SimpleCookie()
    try:
        cookies.load(req.headers.get("Cookie", ""))
    except CookieError:
        return ""
    morsel = cookies.get(cookie_name(what))
    return morsel.value if morsel else ""


def session_id_of(req: func.HttpRequest) -> str:
    return cookie_of(req)


def require_own_sign_in(req: func.HttpRequest) -> None:
    """Raises InvalidRequestError unless this browser started the sign-in whose state the answer carries."""
    started = cookie_of(req, SIGN_IN_COOKIE)
    state = req.params.get("state", "")
    if not started or not secrets.compare_digest(started.encode(), state.encode()):
        raise InvalidRequestError("This sign-in was not started in this browser; please sign in again.")


def session_of(req: func.HttpRequest) -> PortalSession:
    """The signed-in session. Raises NotAuthorisedError (none, ended or expired: back to sign-in)."""
    return bootstrap.get_portal_sessions().get(session_id_of(req), now())


def form_of(req: func.HttpRequest, session: PortalSession) -> dict[str, str]:
    """The posted form, once its CSRF token is the session's. Raises ForbiddenError (forged or stale form),
    InvalidRequestError (larger than any portal form, or not UTF-8)."""
    body = req.get_body() or b""
    if len(body) > MAX_JSON_BODY:
        raise InvalidRequestError("The form is larger than any portal form can be.")
    try:
        form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        raise InvalidRequestError("The form is not UTF-8.") from None
    if not secrets.compare_digest(form.pop("csrf", "").encode(), session.csrf_token.encode()):
        raise ForbiddenError("This form did not come from your portal session; reload the page and try again.")
    return form


@functools.cache
def environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    env.globals.update(portal=PORTAL, status_labels=STATUS_LABELS, verification_labels=VERIFICATION_LABELS)
    return env


def render(
    template: str,
    session: PortalSession | None,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> func.HttpResponse:
    """A portal page; its one script (static, from our host) runs under the response's nonce."""
    nonce = new_nonce()
    document = environment().get_template(template).render(session=session, nonce=nonce, **context)
    return html_response(document, status, nonce=nonce, headers=headers)


def see_other(url: str, headers: dict[str, str] | None = None) -> func.HttpResponse:
    """303 to `url`: after a form post the browser GETs it, so a reload does not post again."""
    return func.HttpResponse(
        status_code=303,
        headers={"Location": url, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer", **(headers or {})},
    )


def back_to(path: str, notice: str = "", headers: dict[str, str] | None = None) -> func.HttpResponse:
    """After a change: to the portal page showing it."""
    return see_other(f"{PORTAL}{path}" + (f"?notice={notice}" if notice else ""), headers)


def portal_page(handler: HttpHandler) -> HttpHandler:
    """No session: to the sign-in; our errors: a portal page saying what to do, with a support reference."""

    @functools.wraps(handler)
    def wrapper(req: func.HttpRequest) -> func.HttpResponse:
        reference = uuid.uuid4().hex[:12]
        try:
            return handler(req)
        except NotAuthorisedError as error:
            logger.info("%s -> sign-in (%s)", handler.__name__, error.code)
            return redirect(f"{PORTAL}/signin")
        except ConnectorError as error:
            status = status_of(error)
            (logger.error if status >= 500 else logger.info)(
                "%s -> %d %s (reference %s)", handler.__name__, status, error.code, reference
            )
            message = "We could not find that in your organisation." if isinstance(error, NotFoundError) else None
            return render("error.html", None, status, message=message or error.message, reference=reference)
        except Exception:
            logger.exception("%s -> 500 unexpected (reference %s)", handler.__name__, reference)
            return render("error.html", None, 500, message="Something went wrong on our side.", reference=reference)

    return wrapper


def asset(name: str) -> func.HttpResponse:
    """A static file of the portal (its script); no other file is served."""
    types = {"portal.js": "text/javascript"}
    if name not in types:
        raise NotFoundError("No such file.")
    return func.HttpResponse(
        (ASSETS / name).read_bytes(),
        mimetype=types[name],
        charset="utf-8",
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
