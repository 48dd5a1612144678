"""The local Epic's OAuth side: SMART discovery, authorize, token endpoint (EHR launch and backend), and the
FHIR (`localworld/epic_fhir.py`) and telehealth (`localworld/epic_telehealth.py`) services behind it.

The token endpoint checks what Epic checks: the code, redirect URI, PKCE S256 verifier, and the
`private_key_jwt` client assertion (RS384, iss = sub = client id, aud = token URL, exp <= 5 minutes,
unique jti) against the JWKS the test trusts (SMART App Launch 2, hl7.org/fhir/smart-app-launch:
app-launch.html, client-confidential-asymmetric.html, backend-services.html; Epic's
fhir.epic.com/Documentation?docId=oauth2).

An EHR launch (`launch_visit`) gives the authorize request a `launch` id; the token response then
carries the launch context as SMART 2 defines it (app-launch.html#response-5,
scopes-and-launch-context.html): `patient`, `encounter`, `fhirContext` (a list of `{"reference":
"Appointment/<id>"}` objects), an `id_token` (OpenID Connect, RS256, signed with a key published at
`jwks_uri`) whose `fhirUser` claim is the absolute URL of the launching Practitioner or Patient, and,
where Epic sends it, Epic's own top-level `appointment`. Which of these a launch carries is chosen per
launch, so tests can play Epic configurations that give only some of them. `new_launch` takes a raw
context for shapes no configuration gives (e.g. a forged or empty one).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from localworld.epic_fhir import EpicFhir, Grant, Visit
from localworld.epic_telehealth import SERVICE_PATH, STATUS_PAGE_PATH, TelehealthService
from localworld.server import Request, Response, StandIn

INTERCONNECT_PATH = "/interconnect"
"""The organisation's Interconnect base: Epic's FHIR and web services both live under it."""
FHIR_PATH = f"{INTERCONNECT_PATH}/api/FHIR/R4"
JWKS_PATH = f"{INTERCONNECT_PATH}/api/epic/2019/Security/Open/PublicKeys/1/OIDC"
CLIENT_ID = "epic-client-1234"
LAUNCH_CONTEXT = ("fhirContext", "encounter", "appointment")
"""What a launch's token response names the visit by, unless a test asks for less."""


class EpicStandIn(StandIn):
    def __init__(self, *, port: int = 0, tls: bool = True) -> None:
        """`tls=False` only for a local run with LOOPBACK_HTTP on (a browser opens Epic's pages)."""
        super().__init__(self._serve, tls=tls, port=port)
        self.trusted_jwks: dict = {"keys": []}
        self.codes: dict[str, dict[str, str]] = {}
        self.seen_jti: set[str] = set()
        self.token_refusals: list[str] = []
        self.launches: dict[str, dict[str, Any]] = {}
        self.token_errors: list[Response] = []
        """Answers the token endpoint serves first, in order (to play Epic refusing or failing)."""
        self.backend_tokens: set[str] = set()
        self.backend_scopes: list[str] = []
        self.communications: list[dict] = []
        self.fhir_errors: list[Response] = []
        """Answers FHIR creates serve first, in order (to play Epic failing)."""
        self.fhir = EpicFhir(self.fhir_base_url)
        self.telehealth = TelehealthService(CLIENT_ID, self.backend_tokens)
        self._id_token_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @property
    def fhir_base_url(self) -> str:
        return f"{self.url}{FHIR_PATH}"

    @property
    def interconnect_url(self) -> str:
        return f"{self.url}{INTERCONNECT_PATH}"

    def add_visit(
        self,
        csn: str,
        *,
        patient_id: str,
        provider_id: str,
        start: datetime | None,
        end: datetime | None = None,
        conference_id: str | None = None,
        department_id: str = "10501",
        appointment_id: str | None = None,
    ) -> Visit:
        """A visit Epic knows: its Appointment and Encounter (both carrying the CSN) become readable.
        `appointment_id`: the FHIR id to give its Appointment (default: a fresh Epic-like one)."""
        visit = Visit(csn, patient_id, provider_id, start, end, department_id, conference_id)
        if appointment_id:
            visit.appointment_id = appointment_id
        return self.fhir.add_visit(visit)

    def launch_visit(self, visit: Visit, role: str, *, context: Iterable[str] = LAUNCH_CONTEXT) -> str:
        """An EHR launch id for `visit` by its provider (`role` "provider", from Hyperspace) or its patient
        ("patient", from MyChart). `context` picks what the token response names the visit by:
        "fhirContext", "encounter", "appointment" (Epic's own parameter); the patient and the id_token's
        fhirUser are always there."""
        wanted = set(context)
        given: dict[str, Any] = {"patient": visit.patient_id}
        if "encounter" in wanted:
            given["encounter"] = visit.encounter_id
        if "appointment" in wanted:
            given["appointment"] = visit.appointment_id
        if "fhirContext" in wanted:
            given["fhirContext"] = [{"reference": f"Appointment/{visit.appointment_id}"}]
        user = f"Practitioner/{visit.provider_id}" if role == "provider" else f"Patient/{visit.patient_id}"
        return self.new_launch(**given, fhirUser=f"{self.fhir_base_url}/{user}")

    def new_launch(self, **context: Any) -> str:
        """An EHR launch id whose token response carries `context` as given; a `fhirUser` goes into the
        signed id_token (SMART 2), not the response itself."""
        launch = secrets.token_urlsafe(12)
        self.launches[launch] = context
        return launch

    def _serve(self, request: Request) -> Response:
        if request.path == f"{FHIR_PATH}/.well-known/smart-configuration":
            return Response.json(
                {
                    "issuer": f"{self.url}/oauth2",
                    "jwks_uri": f"{self.url}{JWKS_PATH}",
                    "authorization_endpoint": f"{self.url}/oauth2/authorize",
                    "token_endpoint": f"{self.url}/oauth2/token",
                    "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                    "code_challenge_methods_supported": ["S256"],
                    "capabilities": [
                        "launch-ehr",
                        "client-confidential-asymmetric",
                        "context-ehr-patient",
                        "context-ehr-encounter",
                        "sso-openid-connect",
                        "permission-v1",
                        "permission-v2",
                    ],
                }
            )
        if request.path == JWKS_PATH:
            return Response.json({"keys": [self._id_token_jwk()]})
        if request.path == "/oauth2/authorize":
            return self._authorize(request.query)
        if request.path == "/oauth2/token" and request.method == "POST":
            return self._token(dict(parse_qsl(request.body.decode())))
        if request.path == f"{FHIR_PATH}/Communication" and request.method == "POST":
            return self._create_communication(request)
        if request.path.startswith(f"{FHIR_PATH}/"):
            return self.fhir.serve(request, request.path[len(FHIR_PATH) :])
        if request.path == f"{INTERCONNECT_PATH}{SERVICE_PATH}":
            return self.telehealth.serve(request)
        if request.path == STATUS_PAGE_PATH:
            return self.telehealth.page()
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
        context = dict(self.launches.get(authorize.get("launch", ""), {}))
        scope = authorize.get("scope", "")
        access_token = secrets.token_urlsafe(24)
        fhir_user = context.pop("fhirUser", None)
        patient_scoped = any(s.startswith("patient/") for s in scope.split())
        patient = context.get("patient") or str(fhir_user or "").partition("Patient/")[2] or "?"
        self.fhir.grants[access_token] = Grant(scope, patient if patient_scoped else None)
        answer = {"access_token": access_token, "token_type": "Bearer", "expires_in": 3600, "scope": scope}
        if "openid" in scope.split():
            answer["id_token"] = self._id_token(fhir_user, authorize.get("nonce"))
        return Response.json({**answer, **context})

    def _id_token(self, fhir_user: str | None, nonce: str | None) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": f"{self.url}/oauth2",
            "aud": CLIENT_ID,
            "sub": hashlib.sha256((fhir_user or "anonymous").encode()).hexdigest()[:24],
            "iat": now,
            "exp": now + 300,
        }
        if fhir_user:
            claims["fhirUser"] = fhir_user
        if nonce:
            claims["nonce"] = nonce
        return jwt.encode(claims, self._id_token_key, algorithm="RS256", headers={"kid": "1"})

    def _id_token_jwk(self) -> dict[str, str]:
        numbers = self._id_token_key.public_key().public_numbers()

        def b64(value: int) -> str:
            return base64.urlsafe_b64encode(value.to_bytes((value.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()

        return {"kty": "RSA", "kid": "1", "alg": "RS256", "use": "sig", "n": b64(numbers.n), "e": b64(numbers.e)}

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
