"""Epic's side of a SMART sign-in: discovery, authorize (a signed-in user), token endpoint, FHIR Appointment.

The token endpoint checks what Epic checks: the code, redirect URI, PKCE S256 verifier, and the
`private_key_jwt` client assertion (RS384, iss = sub = client id, aud = token URL, exp <= 5 minutes,
unique jti) against the JWKS the test trusts. An EHR launch (`new_launch`) gives the authorize request
a `launch` id whose context (fhirUser, patient, appointment, ...) the token response carries; the
access token it issues reads `appointments` at `<FHIR base>/Appointment/<id>`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from urllib.parse import parse_qsl, urlencode

import jwt

from localworld.server import Request, Response, StandIn

FHIR_PATH = "/interconnect/api/FHIR/R4"
CLIENT_ID = "epic-client-1234"


class EpicStandIn(StandIn):
    def __init__(self, *, port: int = 0, tls: bool = True) -> None:
        """`tls=False` only for a local run with LOOPBACK_HTTP on (a browser opens Epic's pages)."""
        super().__init__(self._serve, tls=tls, port=port)
        self.trusted_jwks: dict = {"keys": []}
        self.codes: dict[str, dict[str, str]] = {}
        self.seen_jti: set[str] = set()
        self.token_refusals: list[str] = []
        self.launches: dict[str, dict[str, str]] = {}
        self.appointments: dict[str, dict] = {}
        self.access_tokens: set[str] = set()
        self.token_errors: list[Response] = []
        """Answers the token endpoint serves first, in order (to play Epic refusing or failing)."""
        self.backend_tokens: set[str] = set()
        self.backend_scopes: list[str] = []
        self.communications: list[dict] = []
        self.fhir_errors: list[Response] = []
        """Answers FHIR creates serve first, in order (to play Epic failing)."""

    def new_launch(self, **context: str) -> str:
        """An EHR launch id whose token response carries `context` (e.g. fhirUser=..., appointment=...)."""
        launch = secrets.token_urlsafe(12)
        self.launches[launch] = context
        return launch

    def add_appointment(self, appointment_id: str, start: str, end: str | None = None) -> None:
        resource = {"resourceType": "Appointment", "id": appointment_id, "status": "booked", "start": start}
        if end:
            resource["end"] = end
        self.appointments[appointment_id] = resource

    @property
    def fhir_base_url(self) -> str:
        return f"{self.url}{FHIR_PATH}"

    def _serve(self, request: Request) -> Response:
        if request.path == f"{FHIR_PATH}/.well-known/smart-configuration":
            return Response.json(
                {
                    "authorization_endpoint": f"{self.url}/oauth2/authorize",
                    "token_endpoint": f"{self.url}/oauth2/token",
                    "code_challenge_methods_supported": ["S256"],
                }
            )
        if request.path == "/oauth2/authorize":
            return self._authorize(request.query)
        if request.path == "/oauth2/token" and request.method == "POST":
            return self._token(dict(parse_qsl(request.body.decode())))
        if request.path == f"{FHIR_PATH}/Communication" and request.method == "POST":
            return self._create_communication(request)
        if request.path.startswith(f"{FHIR_PATH}/Appointment/") and request.method == "GET":
            return self._read_appointment(request)
        return Response(404)

    def _create_communication(self, request: Request) -> Response:
        """A conditional create: `If-None-Exist: identifier=<system>|<value>` finds an earlier one."""
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.backend_tokens:
            return Response.json({"resourceType": "OperationOutcome"}, status=401)
        if self.fhir_errors:
            return self.fhir_errors.pop(0)
        resource = json.loads(request.body)
        wanted = request.headers.get("if-none-exist", "").removeprefix("identifier=")
        for existing in self.communications:
            identifier = existing["identifier"][0]
            if wanted == f"{identifier['system']}|{identifier['value']}":
                return Response.json(existing)
        resource["id"] = secrets.token_hex(8)
        self.communications.append(resource)
        return Response.json(resource, status=201)

    def _read_appointment(self, request: Request) -> Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.access_tokens:
            return Response.json({"resourceType": "OperationOutcome"}, status=401)
        resource = self.appointments.get(request.path.rsplit("/", 1)[1])
        if resource is None:
            return Response.json({"resourceType": "OperationOutcome"}, status=404)
        return Response.json(resource)

    def _authorize(self, query: dict[str, str]) -> Response:
        """An analyst who signs in successfully: redirect back with a code."""
        if (
            query.get("client_id") != CLIENT_ID
            or query.get("code_challenge_method") != "S256"
            or query.get("aud") != self.fhir_base_url
            or query.get("response_type") != "code"
            or ("launch" in query and query["launch"] not in self.launches)
        ):
            return Response(400, "bad authorize request")
        code = secrets.token_urlsafe(16)
        self.codes[code] = query
        target = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
        return Response(302, headers={"Location": target})

    def _token(self, form: dict[str, str]) -> Response:
        if self.token_errors:
            return self.token_errors.pop(0)
        if form.get("grant_type") == "client_credentials":
            return self._backend_token(form)
        authorize = self.codes.get(form.get("code", ""), {})
        problem = self._token_problem(form)
        if problem:
            self.token_refusals.append(problem)
            return Response.json({"error": "invalid_grant", "error_description": problem}, status=400)
        access_token = secrets.token_urlsafe(24)
        self.access_tokens.add(access_token)
        answer = {"access_token": access_token, "token_type": "Bearer", "expires_in": 3600}
        context = self.launches.get(authorize.get("launch", ""), {})
        return Response.json({**answer, "scope": authorize.get("scope", ""), **context})

    def _backend_token(self, form: dict[str, str]) -> Response:
        """SMART Backend Services: the client assertion alone authenticates us."""
        problem = self._assertion_problem(form)
        if problem:
            self.token_refusals.append(problem)
            return Response.json({"error": "invalid_client", "error_description": problem}, status=400)
        access_token = secrets.token_urlsafe(24)
        self.backend_tokens.add(access_token)
        self.backend_scopes.append(form.get("scope", ""))
        return Response.json({"access_token": access_token, "token_type": "Bearer", "expires_in": 3600})

    def _token_problem(self, form: dict[str, str]) -> str | None:
        authorize = self.codes.pop(form.get("code", ""), None)
        if authorize is None:
            return "unknown code"
        if form.get("grant_type") != "authorization_code" or form.get("redirect_uri") != authorize["redirect_uri"]:
            return "grant or redirect_uri"
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != authorize["code_challenge"]:
            return "pkce"
        return self._assertion_problem(form)

    def _assertion_problem(self, form: dict[str, str]) -> str | None:
        if form.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            return "assertion type"
        assertion = form.get("client_assertion", "")
        try:
            kid = jwt.get_unverified_header(assertion)["kid"]
            jwk = next(k for k in self.trusted_jwks["keys"] if k["kid"] == kid)
            claims = jwt.decode(
                assertion,
                jwt.PyJWK(jwk).key,
                algorithms=["RS384"],
                audience=f"{self.url}/oauth2/token",
                issuer=CLIENT_ID,
                options={"require": ["exp", "jti", "sub"]},
            )
        except (jwt.PyJWTError, StopIteration, KeyError):
            return "client assertion"
        if claims["sub"] != CLIENT_ID or claims["exp"] - time.time() > 300 or claims["jti"] in self.seen_jti:
            return "client assertion claims"
        self.seen_jti.add(claims["jti"])
        return None
