"""SMART on FHIR EHR launch from Epic into the visit's one meeting; the provider signs in to Microsoft 365 once.

1. `start_launch` (Epic opens `/api/launch/provider` or `/api/launch/patient` with `iss` and `launch`):
   `iss` must be an approved endpoint, else a page and no redirect (no open redirector). Redirect to
   Epic's authorize endpoint (discovered, cached) with PKCE S256, `aud` = `iss`, the role's scopes, and a
   one-time state in the endpoint's geography that carries the launch context.
2. `complete_launch` (Epic's redirect to `/api/launch/callback`): redeem the state once, exchange the code
   (`private_key_jwt`), then find the visit in authenticated context only: the Appointment the token
   response names (else its Encounter, and the Appointment sharing the Encounter's CSN), read with the
   launch's token. The launch URL's `sessionId` must be one of their identifiers; a patient must be a
   participant; a provider must be named by `fhirUser`. Then open the meeting at the Appointment's times.
   A provider whose EHR user is not mapped yet goes to Microsoft 365 sign-in first, with a second
   one-time state. Once a provider is in the meeting, a patient who has not joined may be texted that the
   clinician is ready (`shared.services.clinician_ready`).
3. `complete_sign_in` (Entra's redirect to `/api/launch/signin`): map the EHR user to the signed-in
   Microsoft 365 user, then open the meeting.

The Epic access token lives only in `complete_launch`'s frame; states hold ids and times, never a token,
a FHIR resource or a name. Every launch is counted in the visit log.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from shared.adapters.config_store import AuthState
from shared.adapters.smart import SmartClient, fhir_user_of, new_pkce
from shared.adapters.storage import Storage
from shared.adapters.user_map import MappedUser, UserMap
from shared.adapters.visit_log import VisitLog
from shared.domain.access import Caller
from shared.domain.config import Endpoint, EndpointStatus, Organisation, normalise_fhir_base_url
from shared.domain.join_tokens import new_token, token_geo
from shared.domain.launch import (
    LAUNCH_PURPOSE,
    SCOPES,
    SIGN_IN_PURPOSE,
    STATE_TTL,
    LaunchedVisit,
    Role,
    TokenContext,
    csn_identifier,
    ehr_user_key,
    encounter_appointment_id,
    parse_launch_request,
    patient_user,
    relative_reference,
    require_participant,
    token_context,
    visit_id_of,
    visit_times,
)
from shared.errors import (
    ConnectorError,
    InvalidRequestError,
    LaunchNotAllowedError,
    NotFoundError,
    PreconditionFailedError,
    UpstreamError,
    VisitNotConfirmedError,
)
from shared.services.clinician_ready import text_clinician_ready
from shared.services.ehr_write_back import note_patient_waiting
from shared.services.meetings import MeetingService, get_or_create_meeting
from shared.services.notices import NoticePolicy

logger = logging.getLogger(__name__)


class Directory(Protocol):
    """Endpoints as the launch reads them (cached briefly: `shared.adapters.config_cache`)."""

    def find_endpoint_by_url(self, fhir_base_url: str) -> Endpoint: ...

    def get_endpoint(self, endpoint_id: str) -> Endpoint: ...

    def get_organisation(self, org_id: str) -> Organisation: ...


class AuthStates(Protocol):
    """One-time OAuth states (`ConfigStore`'s mechanism), here over the endpoint's geography account."""

    def create_auth_state(self, state: str, value: AuthState) -> None: ...

    def take_auth_state(self, state: str, purpose: str) -> AuthState: ...


class ProviderSignIn(Protocol):
    """Microsoft 365 sign-in (Entra authorization code with PKCE) at the authority of the organisation's own
    tenant; `EntraTokenValidator` implements it."""

    def sign_in_url(self, *, tenant_id: str, redirect_uri: str, state: str, code_challenge: str, nonce: str) -> str: ...

    def redeem_sign_in(
        self, *, tenant_id: str, code: str, redirect_uri: str, code_verifier: str, nonce: str
    ) -> Caller: ...


@dataclass(frozen=True)
class LaunchPorts:
    directory: Directory
    smart: SmartClient
    states: Callable[[str], AuthStates]
    """The states of one geography."""
    sign_in: Callable[[], ProviderSignIn]
    """Built on first use: patient launches and mapped providers never need Entra settings."""
    users: UserMap
    storage: Storage
    meetings: MeetingService
    visits: VisitLog
    notices: NoticePolicy
    """For the "clinician is ready" SMS a provider's launch may send."""


@dataclass(frozen=True)
class LaunchUrls:
    """Our redirect URIs, as registered at Epic (callback) and on the Entra app registration (sign-in)."""

    callback: str
    sign_in: str
    loopback_http: bool = False
    """Setting LOOPBACK_HTTP: Epic's `iss` may be http on loopback (local runs)."""


def start_launch(ports: LaunchPorts, urls: LaunchUrls, role: Role, params: Mapping[str, str], now: datetime) -> str:
    """Epic's authorize URL for this launch. Raises InvalidRequestError (no iss/launch, bad context),
    LaunchNotAllowedError (iss is no approved endpoint), UpstreamError (SMART discovery failed)."""
    request = parse_launch_request(dict(params))
    try:
        iss = normalise_fhir_base_url(request.iss, loopback_http=urls.loopback_http)
        endpoint = ports.directory.find_endpoint_by_url(iss)
    except (InvalidRequestError, NotFoundError):
        raise LaunchNotAllowedError("The launch's iss is not a registered FHIR endpoint.") from None
    _require_approved(endpoint)
    config = ports.smart.discover(endpoint.fhir_base_url)
    verifier, challenge = new_pkce()
    state = new_token(endpoint.geo)
    context = {"role": str(role)}
    if request.session_id:
        context["session_id"] = request.session_id
    if request.department_id:
        context["department_id"] = request.department_id
    ports.states(endpoint.geo).create_auth_state(
        state,
        AuthState(endpoint.id, "", 0, verifier, config.token_endpoint, now + STATE_TTL, LAUNCH_PURPOSE, context),
    )
    logger.info("%s launch started for endpoint %s", role, endpoint.id)
    return ports.smart.authorize_url(
        config,
        redirect_uri=urls.callback,
        state=state,
        code_challenge=challenge,
        aud=request.iss,
        scope=SCOPES[role],
        launch=request.launch,
    )


def complete_launch(ports: LaunchPorts, urls: LaunchUrls, state: str, code: str, now: datetime) -> str:
    """Where the launching person goes: the meeting's join URL, or (a provider's first launch) Microsoft 365
    sign-in. Raises InvalidRequestError (state unknown, used or expired; Epic refused; no provider user in
    the context), VisitNotConfirmedError (authenticated context names no visit, or not this one for this
    person), LaunchNotAllowedError (endpoint no longer approved), MeetingNotOpenedError (a patient
    before anyone could organise the meeting), UpstreamError, MeetingsNotPermittedError."""
    pending = _take_state(ports, state, code, LAUNCH_PURPOSE, now)
    endpoint = ports.directory.get_endpoint(pending.endpoint_id)
    _require_approved(endpoint)
    tokens = ports.smart.exchange_code(
        pending.token_endpoint, code=code, redirect_uri=urls.callback, code_verifier=pending.code_verifier
    )
    visit = _confirmed_visit(ports.smart, endpoint, pending.context, tokens, now)
    if visit.role is Role.PATIENT:
        join_url = _open_meeting(ports, visit, endpoint.organizer_user_id, now)
        account = ports.storage.for_geo(visit.geo)
        note_patient_waiting(ports.directory, account, visit.geo, visit.endpoint_id, visit.visit_id, now)
        return join_url
    fhir_user = fhir_user_of(tokens)
    if fhir_user is None:
        raise InvalidRequestError("Epic did not say which user launched the visit (fhirUser).")
    user_key = ehr_user_key(endpoint.org_id, relative_reference(fhir_user, endpoint.fhir_base_url))
    mapped = ports.users.find(endpoint.geo, user_key)
    if mapped is None:
        return _start_sign_in(ports, urls, visit, user_key, endpoint.tenant_id, now)
    join_url = _open_meeting(ports, visit, endpoint.organizer_user_id or mapped.object_id, now)
    _tell_patient_clinician_ready(ports, endpoint, visit, now)
    return join_url


def _confirmed_visit(
    smart: SmartClient, endpoint: Endpoint, launch: Mapping[str, str], tokens: dict, now: datetime
) -> LaunchedVisit:
    """The visit authenticated context names, checked against the launch's `sessionId` hint and (patients)
    participation. Raises VisitNotConfirmedError, UpstreamError."""
    role = Role(launch["role"])
    context = token_context(tokens)
    appointment, encounter = _read_visit(smart, endpoint.fhir_base_url, context, tokens["access_token"])
    if role is Role.PATIENT:
        require_participant(appointment or encounter, context.patient_id or patient_user(fhir_user_of(tokens)))
    visit_id = visit_id_of([r for r in (appointment, encounter) if r], launch.get("session_id"))
    start, end = visit_times(appointment, now)
    return LaunchedVisit(endpoint.id, endpoint.geo, visit_id, start, end, role, launch.get("department_id"))


def _read_visit(
    smart: SmartClient, fhir_base_url: str, context: TokenContext, access_token: str
) -> tuple[dict | None, dict | None]:
    """The visit's Appointment and Encounter as Epic serves them to this launch's token: the Appointment the
    context names, else the Encounter and the Appointment that shares its CSN (None: an unscheduled visit).
    Raises VisitNotConfirmedError (no visit in the context, or Epic will not show it to this launch)."""
    if context.appointment_id is None and context.encounter_id is None:
        raise VisitNotConfirmedError("Epic's token response names no appointment or encounter.")
    try:
        if context.appointment_id:
            return smart.read(fhir_base_url, "Appointment", context.appointment_id, access_token), None
        encounter = smart.read(fhir_base_url, "Encounter", context.encounter_id or "", access_token)
        named = encounter_appointment_id(encounter)
        if named:
            return smart.read(fhir_base_url, "Appointment", named, access_token), encounter
        csn = csn_identifier(encounter)
        found = smart.search(fhir_base_url, "Appointment", {"identifier": csn}, access_token) if csn else []
    except UpstreamError as error:
        if error.status in (403, 404):
            raise VisitNotConfirmedError("Epic does not show the launch's visit to its token.") from error
        raise
    same_visit = [appointment for appointment in found if csn_identifier(appointment) == csn]
    return (same_visit[0] if len(same_visit) == 1 else None), encounter


def complete_sign_in(ports: LaunchPorts, urls: LaunchUrls, state: str, code: str, now: datetime) -> str:
    """The meeting's join URL after the provider's first Microsoft 365 sign-in, which maps their EHR user.

    Raises InvalidRequestError (state unknown, used or expired), NotAuthorisedError (sign-in refused or
    its id_token invalid), and what `complete_launch` raises when opening the meeting.
    """
    pending = _take_state(ports, state, code, SIGN_IN_PURPOSE, now)
    visit = LaunchedVisit.from_context(dict(pending.context))
    user = ports.sign_in().redeem_sign_in(
        tenant_id=pending.context["tenant_id"],
        code=code,
        redirect_uri=urls.sign_in,
        code_verifier=pending.code_verifier,
        nonce=pending.context["nonce"],
    )
    mapped = MappedUser(user.object_id, user.upn)
    ports.users.upsert(visit.geo, pending.context["user_key"], mapped, now)
    logger.info("Provider of endpoint %s mapped to a Microsoft 365 user", visit.endpoint_id)
    endpoint = ports.directory.get_endpoint(visit.endpoint_id)
    join_url = _open_meeting(ports, visit, endpoint.organizer_user_id or mapped.object_id, now)
    _tell_patient_clinician_ready(ports, endpoint, visit, now)
    return join_url


def _tell_patient_clinician_ready(ports: LaunchPorts, endpoint: Endpoint, visit: LaunchedVisit, now: datetime) -> None:
    """After the provider is in the meeting: the patient who has not joined hears that the clinician waits."""
    outcome = text_clinician_ready(
        endpoint,
        ports.directory,
        ports.storage,
        ports.visits,
        ports.notices,
        visit_id=visit.visit_id,
        scheduled_start=visit.start,
        now=now,
    )
    logger.info("Ready SMS for a visit of endpoint %s: %s", endpoint.id, outcome)


def _start_sign_in(
    ports: LaunchPorts, urls: LaunchUrls, visit: LaunchedVisit, user_key: str, tenant_id: str, now: datetime
) -> str:
    verifier, challenge = new_pkce()
    nonce = secrets.token_urlsafe(16)
    state = new_token(visit.geo)
    context = {**visit.as_context(), "user_key": user_key, "nonce": nonce, "tenant_id": tenant_id}
    ports.states(visit.geo).create_auth_state(
        state, AuthState(visit.endpoint_id, "", 0, verifier, "", now + STATE_TTL, SIGN_IN_PURPOSE, context)
    )
    logger.info("Provider of endpoint %s signs in to Microsoft 365 (first launch)", visit.endpoint_id)
    return ports.sign_in().sign_in_url(
        tenant_id=tenant_id, redirect_uri=urls.sign_in, state=state, code_challenge=challenge, nonce=nonce
    )


def _open_meeting(ports: LaunchPorts, visit: LaunchedVisit, organizer_user_id: str | None, now: datetime) -> str:
    meeting = get_or_create_meeting(
        ports.storage,
        ports.meetings,
        ports.directory,
        endpoint_id=visit.endpoint_id,
        geo=visit.geo,
        visit_id=visit.visit_id,
        start=visit.start,
        end=visit.end,
        organizer_user_id=organizer_user_id,
    )
    try:
        ports.visits.record_launch(
            visit.geo,
            endpoint_id=visit.endpoint_id,
            visit_id=visit.visit_id,
            scheduled_start=visit.start,
            role=str(visit.role),
            department=visit.department_id,
            at=now,
        )
    except ConnectorError as error:
        # The visit log is for reports: a person waiting to join a visit matters more.
        logger.warning("Visit log not updated for endpoint %s: %s", visit.endpoint_id, error.code)
    return meeting.join_url


def _take_state(ports: LaunchPorts, state: str, code: str, purpose: str, now: datetime) -> AuthState:
    if not state or not code:
        raise InvalidRequestError("The sign-in answer has no code or state.")
    geo = token_geo(state)
    if geo not in ports.storage.geos:
        raise InvalidRequestError("This launch is unknown or was used already.")
    try:
        pending = ports.states(geo).take_auth_state(state, purpose)
    except (NotFoundError, PreconditionFailedError):
        raise InvalidRequestError("This launch is unknown or was used already.") from None
    if pending.expires_at <= now:
        raise InvalidRequestError("This launch took too long; start it again.")
    return pending


def _require_approved(endpoint: Endpoint) -> None:
    if endpoint.status is not EndpointStatus.APPROVED:
        raise LaunchNotAllowedError(f"Endpoint {endpoint.id} is {endpoint.status}, not approved.")
