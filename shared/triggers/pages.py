"""Pages for people (patients, clinicians): one small HTML layout, escaped text, and friendly error pages.

Every page works in Epic's embedded browser and on a phone: inline CSS, no external assets, no script
unless a page brings its own under a per-response CSP nonce. Errors become a page that says what to do
and carries a support reference that also appears in the log line; never a stack trace or patient data.
Pages are never cached and never send a Referer, because their URLs may carry tokens; the headers every
response carries (nosniff, no framing, HSTS) are added by `HttpBlueprint`.
"""

from __future__ import annotations

import functools
import html
import logging
import secrets
import uuid
from collections.abc import Sequence

import azure.functions as func

from shared.errors import (
    ConnectorError,
    InvalidRequestError,
    LaunchNotAllowedError,
    MeetingNotOpenedError,
    MeetingsNotPermittedError,
    NotAuthorisedError,
    NotFoundError,
    UpstreamError,
    VisitNotConfirmedError,
)
from shared.triggers.http import HttpHandler, status_of

logger = logging.getLogger(__name__)

NOT_OPENED_REFRESH_SECONDS = 30

STYLE = """
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 -apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1b1b1f;background:#f4f4f8}
main{max-width:36rem;margin:0 auto;padding:1.5rem 1rem}
h1{font-size:1.4rem;margin:0 0 1rem}
.card{background:#fff;border-radius:.5rem;padding:1.25rem;box-shadow:0 1px 3px rgba(0,0,0,.12)}
.ref{color:#5b5b66;font-size:.85rem;margin-top:1.25rem}
code{font-size:.9em;background:#eeeef3;padding:.1em .3em;border-radius:.2em}
button,.button{display:inline-block;font:inherit;padding:.5rem 1rem;margin:.25rem .5rem .25rem 0;border:0;
border-radius:.3rem;background:#4f52b2;color:#fff;text-decoration:none;cursor:pointer}
button.secondary{background:#e1e1ea;color:#1b1b1f}
.ok{color:#0b6a0b}.bad{color:#a4262c}
""".strip()


def layout(
    title: str,
    body_html: str,
    *,
    script: str | None = None,
    nonce: str | None = None,
    refresh_seconds: int | None = None,
) -> str:
    """A whole HTML document around `body_html` (already safe HTML); `script` runs under `nonce`."""
    script_tag = f'<script nonce="{nonce}">{script}</script>' if script else ""
    refresh = f'<meta http-equiv="refresh" content="{int(refresh_seconds)}">' if refresh_seconds else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">{refresh}'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f'<body><main><div class="card"><h1>{html.escape(title)}</h1>{body_html}</div></main>{script_tag}</body></html>'
    )


def html_response(
    document: str, status: int = 200, *, nonce: str | None = None, headers: dict[str, str] | None = None
) -> func.HttpResponse:
    """An HTML response with the headers every person-facing page needs."""
    script_src = f"'nonce-{nonce}'" if nonce else "'none'"
    policy = f"default-src 'self'; style-src 'unsafe-inline'; script-src {script_src}; img-src 'self' data:"
    return func.HttpResponse(
        document,
        status_code=status,
        mimetype="text/html",
        charset="utf-8",
        headers={
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": policy,
            **(headers or {}),
        },
    )


def message_page(
    status: int,
    title: str,
    paragraphs: Sequence[str],
    *,
    reference: str | None = None,
    refresh_seconds: int | None = None,
) -> func.HttpResponse:
    """A page of plain-text paragraphs (escaped here), with an optional support reference."""
    body = "".join(f"<p>{html.escape(text)}</p>" for text in paragraphs)
    if reference:
        body += f'<p class="ref">Support reference: <code>{html.escape(reference)}</code></p>'
    return html_response(layout(title, body, refresh_seconds=refresh_seconds), status)


def invalid_link_page() -> func.HttpResponse:
    """The one page for a join link that is unknown, expired or cancelled: byte for byte the same for all.

    No support reference: it would differ per request, and there is nothing for support to look up.
    """
    return message_page(
        404,
        "This link does not work",
        [
            "This visit link is not valid any more: the visit may have been cancelled, moved or already "
            "taken place, or the link was copied incompletely.",
            "Please use the link in your most recent message, or contact your clinic.",
        ],
    )


def redirect(url: str) -> func.HttpResponse:
    """302 to `url`, never cached (the target may change, e.g. a meeting re-created)."""
    return func.HttpResponse(
        status_code=302, headers={"Location": url, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    )


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


def error_page(error: ConnectorError, reference: str) -> func.HttpResponse:
    """The page a person sees for one of our errors: what happened and what to do, in plain words."""
    status = status_of(error)
    if isinstance(error, MeetingsNotPermittedError):
        app = f"app id {error.app_id}" if error.app_id else "this app's managed identity (its app id is in the portal)"
        return message_page(
            status,
            "Teams meetings are not yet allowed",
            [
                "Microsoft Teams refused to create the meeting for this visit. Please tell your Microsoft 365 "
                "administrator:",
                "Create an application access policy for online meetings that names "
                f"{app} (New-CsApplicationAccessPolicy -AppIds ...), then grant it to the clinicians who host "
                "visits, or to everyone (Grant-CsApplicationAccessPolicy -PolicyName ... -Identity <user> or "
                "-Global). It can take up to 30 minutes to apply.",
            ],
            reference=reference,
        )
    if isinstance(error, MeetingNotOpenedError):
        return message_page(
            status,
            "Your visit has not opened yet",
            [
                "Your clinician has not opened this visit yet. Please keep this page open: it checks again "
                f"every {NOT_OPENED_REFRESH_SECONDS} seconds and takes you to the visit when it is ready."
            ],
            refresh_seconds=NOT_OPENED_REFRESH_SECONDS,
        )
    if isinstance(error, LaunchNotAllowedError):
        title, text = (
            "This Epic system is not set up for virtual visits",
            "The Epic system that opened this page is not approved in the virtual visit connector. Please ask "
            "your Epic analyst or Microsoft 365 administrator to register and approve it.",
        )
    elif isinstance(error, VisitNotConfirmedError):
        title, text = (
            "This visit cannot be opened for you",
            "Epic did not confirm that this visit belongs to the person who opened it. Please open the visit "
            "again from its appointment in Epic or MyChart; if it keeps happening, please call the clinic.",
        )
    elif isinstance(error, InvalidRequestError):
        title, text = (
            "This could not be opened",
            "The request was incomplete, was used already or has expired. Please go back and start again "
            "(a visit: from Epic or MyChart).",
        )
    elif isinstance(error, NotAuthorisedError):
        title, text = "This link does not work", "The link is not valid or has expired. Please ask for a new one."
    elif isinstance(error, NotFoundError):
        title, text = "Not found", "We could not find what this link points to."
    elif isinstance(error, UpstreamError) and error.retryable:
        title, text = "Please try again", "A service we depend on is busy. Please try again in a minute."
    else:
        title, text = "Something went wrong", "We could not complete this. Please try again later."
    return message_page(
        status, title, [text, "If it keeps happening, contact support with the reference below."], reference=reference
    )


def person_errors(handler: HttpHandler) -> HttpHandler:
    """Map exceptions raised by a person-facing handler to error pages, logged with a reference."""

    @functools.wraps(handler)
    def wrapper(req: func.HttpRequest) -> func.HttpResponse:
        reference = uuid.uuid4().hex[:12]
        try:
            return handler(req)
        except ConnectorError as error:
            status = status_of(error)
            log = logger.error if status >= 500 else logger.info
            # The function name, not the path: page paths carry tokens.
            log("%s -> %d %s (reference %s)", handler.__name__, status, error.code, reference)
            return error_page(error, reference)
        except Exception:
            logger.exception("%s -> 500 unexpected (reference %s)", handler.__name__, reference)
            return error_page(ConnectorError("unexpected"), reference)

    return wrapper
