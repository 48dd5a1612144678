"""Interactive Microsoft Entra ID sign-in for a local run: a pick-a-user page on the v2.0 authorize endpoint,
the authorization code flow with PKCE, and the token endpoint giving v2.0 access and id tokens.

Shapes, from the Microsoft identity platform documentation:

* authorize request and answer (`client_id`, `response_type=code`, `redirect_uri`, `scope`, `state`,
  `nonce`, `code_challenge` + `code_challenge_method=S256`; back to the redirect URI with `code` and
  `state`, or `error` + `error_description` + `state`; an unknown client or redirect URI is shown on a
  page, never redirected to): https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow
* token request and answer (`grant_type=authorization_code`, `code`, `redirect_uri`, `code_verifier`;
  `token_type`, `scope`, `expires_in`, `access_token`, `id_token`) and its error JSON (`error`,
  `error_description` starting with the AADSTS code, `error_codes`, `timestamp`, `trace_id`,
  `correlation_id`), same page
* id token claims (`aud` = client id, `iss`, `tid`, `oid`, `preferred_username`, `nonce`, `ver` 2.0):
  https://learn.microsoft.com/en-us/entra/identity-platform/id-token-claims-reference
* access token claims (`aud` = the API's client id, `roles` from app roles, `tid`, `oid`):
  https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference

Discovery, JWKS and token signing are `EntraStandIn`'s (localworld/entra.py); this adds the person.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from html import escape
from urllib.parse import parse_qsl, urlencode

from localworld.entra import CLIENT_ID, OTHER_TENANT, REPORT_READER_ROLE, TENANT, EntraStandIn
from localworld.pages import hidden_fields, page
from localworld.server import Request, Response


def authorize_path(tenant: str = TENANT) -> str:
    """A tenant's v2.0 authorize endpoint (path)."""
    return f"/{tenant}/oauth2/v2.0/authorize"


def token_path(tenant: str = TENANT) -> str:
    """A tenant's v2.0 token endpoint (path)."""
    return f"/{tenant}/oauth2/v2.0/token"


AUTHORIZE_PATH = authorize_path()
"""The hospital tenant's authorize endpoint (the app registration is single-tenant: see localworld/entra.py)."""
TOKEN_PATH = token_path()
API_SCOPE = f"api://{CLIENT_ID}/Connector.Config"
"""The scope a client asks for to call the configuration API: an access token whose `aud` is our app."""
ADMIN_ROLE = "Connector.Admin"


@dataclass(frozen=True)
class LocalUser:
    upn: str
    name: str
    what: str
    tenant: str = TENANT
    roles: tuple[str, ...] = ()


USERS: tuple[LocalUser, ...] = (
    LocalUser("admin@hospital.example", "Alex Admin", "Microsoft 365 admin of the hospital", roles=(ADMIN_ROLE,)),
    LocalUser("analyst@hospital.example", "Ann Analyst", "Epic customer analyst, the endpoint's approver"),
    LocalUser("dr.grey@hospital.example", "Dr Meredith Grey", "provider (Teams user)"),
    LocalUser("reports@hospital.example", "Rita Reports", "report reader of the hospital", roles=(REPORT_READER_ROLE,)),
    LocalUser(
        "admin@other-clinic.example",
        "Omar Other",
        "admin of another tenant (refused here)",
        tenant=OTHER_TENANT,
        roles=(ADMIN_ROLE,),
    ),
)


class EntraSignIn(EntraStandIn):
    """`EntraStandIn` with a person at the authorize endpoint, who picks one of `USERS`."""

    def __init__(self, *, port: int = 0, redirect_uris: tuple[str, ...] = ()) -> None:
        """`redirect_uris`: those registered on the app (others are refused on the page); empty: any."""
        super().__init__(port=port)
        self.redirect_uris = set(redirect_uris)
        self.grants: dict[str, dict[str, str]] = {}

    def _serve(self, request: Request) -> Response:
        tenant, _, rest = request.path.lstrip("/").partition("/")
        if tenant in self.tenants and rest == "oauth2/v2.0/authorize" and request.method in ("GET", "POST"):
            form = dict(parse_qsl(request.body.decode(errors="replace"))) if request.method == "POST" else {}
            return self._authorize_page(tenant, {**request.query, **form})
        if tenant in self.tenants and rest == "oauth2/v2.0/token" and request.method == "POST":
            return self._redeem(tenant, dict(parse_qsl(request.body.decode(errors="replace"))))
        return super()._serve(request)

    def _authorize_page(self, tenant: str, query: dict[str, str]) -> Response:
        if query.get("client_id") != CLIENT_ID:
            return _error_page("AADSTS700016", "Application with the identifier in client_id was not found.")
        redirect_uri = query.get("redirect_uri", "")
        if not redirect_uri or (self.redirect_uris and redirect_uri not in self.redirect_uris):
            return _error_page("AADSTS50011", "The redirect URI specified in the request does not match the app's.")
        problem = _authorize_problem(query)
        if problem:
            return _redirect(redirect_uri, {"error": "invalid_request", "error_description": problem, **_state(query)})
        username = query.pop("username", None)
        if username is None:
            return self._pick_page(tenant, query)
        user = next((u for u in USERS if u.upn == username), None)
        if user is None:
            return self._pick_page(
                tenant, query, error="AADSTS50034: That user account does not exist in this directory."
            )
        if user.tenant != tenant:
            # A single-tenant app: Entra refuses a user of another directory at this tenant's authority.
            return self._pick_page(
                tenant, query, error="AADSTS50020: User account from identity provider does not exist in tenant."
            )
        code = secrets.token_urlsafe(24)
        self.grants[code] = {**query, "upn": user.upn, "tenant": tenant}
        return _redirect(redirect_uri, {"code": code, **_state(query)})

    def _pick_page(self, tenant: str, query: dict[str, str], error: str | None = None) -> Response:
        rows = "".join(
            f'<tr><td><button name="username" value="{escape(u.upn)}">{escape(u.name)}</button></td>'
            f"<td>{escape(u.upn)}</td><td>{escape(u.what)}</td></tr>"
            for u in USERS
        )
        body = (
            (f'<p class="error">{escape(error)}</p>' if error else "")
            + "<p>Pick an account to sign in with.</p>"
            + f'<form method="post" action="{authorize_path(tenant)}">{hidden_fields(query)}'
            + f"<table>{rows}</table></form>"
        )
        return page("Sign in to your account", body, who="Microsoft Entra ID sign-in")

    def _redeem(self, tenant: str, form: dict[str, str]) -> Response:
        grant = self.grants.pop(form.get("code", ""), None)
        if form.get("grant_type") != "authorization_code":
            return _token_error("unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
        if grant is None or grant["tenant"] != tenant:
            return _token_error("invalid_grant", 70008, "The provided authorization code is invalid or has expired.")
        if form.get("client_id") != CLIENT_ID:
            return _token_error("unauthorized_client", 700016, "Application was not found in the directory.")
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return _token_error("invalid_grant", 500112, "The reply address does not match the one in the request.")
        if _challenge(form.get("code_verifier", "")) != grant["code_challenge"]:
            return _token_error("invalid_grant", 501481, "The Code_Verifier does not match the code_challenge.")
        if self.client_secret is not None and form.get("client_secret") != self.client_secret:
            return _token_error("invalid_client", 7000215, "Invalid client secret provided.")
        user = next(u for u in USERS if u.upn == grant["upn"])
        scopes = grant.get("scope", "").split()
        answer: dict[str, object] = {"token_type": "Bearer", "scope": " ".join(scopes), "expires_in": 3600}
        # An access token for our API only when its scope was asked for; else (Graph's) an opaque one.
        api = API_SCOPE in scopes
        answer["access_token"] = (
            self.token(user.upn, roles=user.roles, tenant=user.tenant) if api else secrets.token_urlsafe(32)
        )
        if "openid" in scopes:
            answer["id_token"] = self.token(user.upn, tenant=user.tenant, nonce=grant.get("nonce", ""))
        return Response.json(answer)


def _authorize_problem(query: dict[str, str]) -> str | None:
    if query.get("response_type") != "code":
        return "AADSTS90014: The request must contain response_type=code."
    if not query.get("scope"):
        return "AADSTS900144: The request body must contain the following parameter: 'scope'."
    if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
        return "AADSTS501491: Invalid code_challenge_method or missing code_challenge."
    return None


def _state(query: dict[str, str]) -> dict[str, str]:
    return {"state": query["state"]} if "state" in query else {}


def _redirect(redirect_uri: str, parameters: dict[str, str]) -> Response:
    separator = "&" if "?" in redirect_uri else "?"
    return Response(302, headers={"Location": f"{redirect_uri}{separator}{urlencode(parameters)}"})


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _error_page(code: str, message: str) -> Response:
    body = f'<p class="error">{escape(code)}: {escape(message)}</p><p>Sorry, we are having trouble signing you in.</p>'
    return page("Sign in", body, status=400, who="Microsoft Entra ID sign-in")


def _token_error(error: str, code: int, message: str) -> Response:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return Response.json(
        {
            "error": error,
            "error_description": f"AADSTS{code}: {message}",
            "error_codes": [code],
            "timestamp": now,
            "trace_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4()),
        },
        status=401 if error == "invalid_client" else 400,
    )
