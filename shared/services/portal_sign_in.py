"""The portal's sign-in (back end for front end): the function app runs the code flow with PKCE as a
confidential client, validates the tokens, keeps a server-side session and gives the browser only its id.

1. `start_sign_in`: a one-time state (`authstates`, purpose `portal`) holds the PKCE verifier and nonce;
   the browser goes to the tenant's own authority.
2. `complete_sign_in`: the state is redeemed once, the code exchanged (with the client secret), the access
   token validated as a configuration API call's is; the session holds that caller and a CSRF token.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from shared.adapters.config_store import AuthState, ConfigStore
from shared.adapters.portal_sessions import PortalSession, PortalSessions
from shared.adapters.smart import new_pkce
from shared.domain.access import Caller
from shared.errors import InvalidRequestError, NotFoundError, PreconditionFailedError

logger = logging.getLogger(__name__)

PORTAL_PURPOSE = "portal"
STATE_TTL = timedelta(minutes=10)
SESSION_LIFETIME = timedelta(hours=8)
"""A working day; then the person signs in again (Entra usually does it without asking)."""


class PortalIdentity(Protocol):
    """Entra as the portal's sign-in needs it (`shared.adapters.entra.EntraTokenValidator`)."""

    def sign_in_url(
        self, *, tenant_id: str, redirect_uri: str, state: str, code_challenge: str, nonce: str, scope: str
    ) -> str: ...

    def api_sign_in_scope(self) -> str: ...

    def redeem_api_sign_in(
        self, *, tenant_id: str, code: str, redirect_uri: str, code_verifier: str, nonce: str
    ) -> Caller: ...


@dataclass(frozen=True)
class SignInStart:
    authorize_url: str
    state: str
    """For the browser to hold until it comes back (binding the answer to it)."""


def start_sign_in(
    store: ConfigStore, identity: PortalIdentity, tenant_id: str, redirect_uri: str, now: datetime
) -> SignInStart:
    """Where to send the browser. Raises NotAuthorisedError (tenant not allowed), UpstreamError."""
    verifier, challenge = new_pkce()
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(16)
    url = identity.sign_in_url(
        tenant_id=tenant_id,
        redirect_uri=redirect_uri,
        state=state,
        code_challenge=challenge,
        nonce=nonce,
        scope=identity.api_sign_in_scope(),
    )
    pending = AuthState("", "", 0, verifier, "", now + STATE_TTL, PORTAL_PURPOSE, {"tenant": tenant_id, "nonce": nonce})
    store.create_auth_state(state, pending)
    return SignInStart(url, state)


def complete_sign_in(
    store: ConfigStore,
    sessions: PortalSessions,
    identity: PortalIdentity,
    state: str,
    code: str,
    redirect_uri: str,
    now: datetime,
) -> tuple[str, PortalSession]:
    """A new session for the signed-in caller: (its id, the session). Raises InvalidRequestError (unknown,
    used or expired state), NotAuthorisedError (Entra refused, or a token is invalid), UpstreamError."""
    if not state or not code:
        raise InvalidRequestError("The sign-in answer needs both code and state.")
    try:
        pending = store.take_auth_state(state, PORTAL_PURPOSE)
    except (NotFoundError, PreconditionFailedError):
        raise InvalidRequestError("This sign-in is unknown or was used already; please sign in again.") from None
    if pending.expires_at <= now:
        raise InvalidRequestError("This sign-in took too long; please sign in again.")
    caller = identity.redeem_api_sign_in(
        tenant_id=pending.context["tenant"],
        code=code,
        redirect_uri=redirect_uri,
        code_verifier=pending.code_verifier,
        nonce=pending.context["nonce"],
    )
    session_id, session = sessions.create(caller, now + SESSION_LIFETIME)
    logger.info("Portal session started (tenant %s)", caller.tenant_id)
    return session_id, session
