"""The local Epic's pages a person clicks: a provider's schedule and a MyChart-like patient page.

`LocalEpic` is the SMART/FHIR `EpicStandIn` (localworld/epic.py) plus a few seeded visits and:

* `GET /` the provider schedule (Hyperspace's stand-in): each visit with *Begin virtual visit* (an EHR
  launch: a fresh launch id whose token response carries the visit's context, then a redirect to the
  connector's launch URL with `iss`, `launch` and `sessionId` = CSN, as Epic's launch record configures it)
  and *Schedule*, *Reschedule*, *Cancel*, which send the signed SIU message (localworld/epic_siu.py) to
  the connector's HL7 ingress as an interface engine does, and show the ACK's MSA-1;
* `GET /mychart` the patient's page, with *Begin video visit* per visit (the patient launch);
* Epic's authorize endpoint asks which visit (a page) when the launch's context names no appointment, or
  a standalone launch asks for `launch/patient`, then carries on as `EpicStandIn` with that context.

Each visit's FHIR Appointment carries its CSN as an identifier (Epic's CSN OID system); SIU SCH-1/SCH-2 and
the launch's `sessionId` carry the same CSN.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, replace
from html import escape
from urllib.parse import parse_qsl, urlencode

from localworld.epic import EpicStandIn
from localworld.epic_fhir import Visit
from localworld.epic_siu import EVENTS, SiuVisit, siu_message
from localworld.pages import hidden_fields, page
from localworld.server import Request, Response

PROVIDER = ("eM5CWtq15N0WJeuCet5bJlQ3", "GREY", "MEREDITH")
DEPARTMENT = ("10501", "VIRTUAL CARE CLINIC")
WHO = "Epic (Hyperspace schedule and MyChart)"


@dataclass(frozen=True)
class DemoVisit:
    appointment_id: str
    patient_id: str
    siu: SiuVisit

    @property
    def csn(self) -> str:
        return self.siu.csn

    @property
    def patient_name(self) -> str:
        return f"{self.siu.given.title()} {self.siu.family.title()}"


def demo_visits(now: dt.datetime) -> list[DemoVisit]:
    """Three video visits of the demo provider, starting from an hour after `now` (fictional 555 numbers)."""
    soon = (now + dt.timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    patients = [
        ("erXuFYUfucBZaryVksYEcMg3", "E1001", "DOE", "JANE", "19800101", ("1", "617", "5550123")),
        ("eq081-VQEgP8drUUqCWzHfw3", "E1002", "ROE", "RICHARD", "19721115", ("1", "617", "5550145")),
        ("e0w0LEDCYtfckT6N.CkJKCw3", "E1003", "LOPEZ", "CAMILA", "19951230", ("1", "312", "5550178")),
    ]
    visits = []
    for number, (patient_id, mrn, family, given, born, phone) in enumerate(patients):
        csn = f"8{number + 1:07d}"
        siu = SiuVisit(
            csn, soon + dt.timedelta(minutes=40 * number), 30, mrn, family, given, born, phone, *PROVIDER, *DEPARTMENT
        )
        visits.append(DemoVisit(f"eAppt{csn}", patient_id, siu))
    return visits


@dataclass(frozen=True)
class Interface:
    """What the connector's integration records configure at Epic: where the interface engine sends SIU
    (signed with the private key whose certificate the admin uploaded) and MyChart's device-test link."""

    ingress_url: str
    key_pem: bytes
    device_test_url: str


class LocalEpic(EpicStandIn):
    def __init__(self, connector_url: str, *, port: int = 0, tls: bool = False) -> None:
        """`connector_url`: the connector's PUBLIC_BASE_URL, where launches go."""
        super().__init__(port=port, tls=tls)
        self.connector_url = connector_url.rstrip("/")
        self.visits = {visit.csn: visit for visit in demo_visits(dt.datetime.now(dt.UTC))}
        self.interface: Interface | None = None
        self.acks: dict[str, str] = {}
        """CSN -> what the last SIU sent for it got back, as shown on the schedule."""
        self.fhir_visits: dict[str, Visit] = {}
        """CSN -> the visit as Epic's FHIR serves it (Appointment and Encounter)."""
        self._lock = threading.Lock()
        for visit in self.visits.values():
            self._publish(visit)

    def connect(self, interface: Interface) -> None:
        """Configure the connector's records (the seed does, once the endpoint is approved): SIU on."""
        self.interface = interface

    def _publish(self, visit: DemoVisit) -> None:
        """The visit's FHIR Appointment and Encounter (both carry its CSN), at its current time."""
        end = visit.siu.start + dt.timedelta(minutes=visit.siu.minutes)
        known = self.fhir_visits.get(visit.csn)
        if known is not None:
            known.start, known.end = visit.siu.start, end
            return
        self.fhir.names[visit.patient_id] = visit.patient_name
        self.fhir_visits[visit.csn] = self.add_visit(
            visit.csn,
            patient_id=visit.patient_id,
            provider_id=PROVIDER[0],
            start=visit.siu.start,
            end=end,
            department_id=DEPARTMENT[0],
            appointment_id=visit.appointment_id,
        )

    def _serve(self, request: Request) -> Response:
        if request.method == "GET" and request.path == "/":
            return self._schedule_page()
        if request.method == "POST" and request.path == "/schedule":
            return self._send(dict(parse_qsl(request.body.decode(errors="replace"))))
        if request.method == "GET" and request.path == "/mychart":
            return self._mychart_page()
        if request.method == "GET" and request.path in ("/begin/provider", "/begin/patient"):
            return self._begin(request.path.rsplit("/", 1)[1], request.query.get("csn", ""))
        if request.path == "/oauth2/authorize" and request.method in ("GET", "POST"):
            return self._authorize_a_visit(request)
        return super()._serve(request)

    def _authorize_a_visit(self, request: Request) -> Response:
        """Epic's authorize, with a page to pick the visit first when the launch did not fix one."""
        form = dict(parse_qsl(request.body.decode(errors="replace"))) if request.method == "POST" else {}
        query = {**request.query, **form}
        if self._lacks_visit(query):
            if "csn" not in query:
                return self._pick_visit_page(query)
            query = self._with_visit(query, query.pop("csn"))
        return super()._serve(replace(request, method="GET", query=query, body=b""))

    def _lacks_visit(self, query: dict[str, str]) -> bool:
        """A launch whose context names no appointment, or a standalone launch asking for a patient."""
        if "launch" in query:
            context = self.launches.get(query["launch"])
            return context is not None and not {"appointment", "encounter", "fhirContext"} & set(context)
        return "launch/patient" in query.get("scope", "").split()

    def _pick_visit_page(self, query: dict[str, str]) -> Response:
        buttons = "".join(
            f'<p><button name="csn" value="{escape(v.csn)}">{v.siu.start:%H:%M} UTC, {escape(v.patient_name)}'
            "</button></p>"
            for v in self.visits.values()
        )
        body = (
            "<p>The launch did not say which visit. Pick the patient and appointment to open.</p>"
            f'<form method="post" action="/oauth2/authorize">{hidden_fields(query)}{buttons}</form>'
        )
        return page("Choose a visit", body, who=WHO)

    def _with_visit(self, query: dict[str, str], csn: str) -> dict[str, str]:
        """The authorize request with the picked visit in its launch context (a new launch when standalone)."""
        visit = self.visits.get(csn)
        if visit is None:
            return query  # Epic's own authorize check then refuses the request
        if "launch" in query:
            # The picked visit's context, as a launch of it would carry (launch_visit), under the launch's user.
            picked = self.launches.pop(self.launch_visit(self.fhir_visits[csn], "provider"))
            picked.pop("fhirUser")
            self.launches[query["launch"]].update(picked)
            return query
        return {**query, "launch": self.launch_visit(self.fhir_visits[csn], "patient")}

    def _schedule_page(self) -> Response:
        rows = []
        for visit in self.visits.values():
            buttons = "".join(f'<button name="action" value="{action}">{action.title()}</button>' for action in EVENTS)
            rows.append(
                f"<tr><td>{visit.siu.start:%H:%M} UTC</td><td>{escape(visit.patient_name)}</td>"
                f"<td><code>{escape(visit.csn)}</code></td>"
                f'<td><a class="button" href="/begin/provider?{urlencode({"csn": visit.csn})}">Begin virtual visit</a>'
                f'</td><td><form method="post" action="/schedule">{hidden_fields({"csn": visit.csn})}{buttons}'
                f'</form></td><td class="ack">{escape(self.acks.get(visit.csn, ""))}</td></tr>'
            )
        feed = "connected" if self.interface else "not connected yet (run the seed)"
        body = (
            f"<p>Dr Meredith Grey's video visits. SIU feed to the connector: {feed}.</p>"
            "<table><tr><th>Start</th><th>Patient</th><th>CSN</th><th></th><th>Scheduling (sends SIU)</th>"
            f"<th>Last ACK</th></tr>{''.join(rows)}</table>"
            '<p><a class="button" href="/begin/provider">Open the connector without a visit</a> '
            "(Epic's authorize page then asks which visit)</p>"
            '<p><a href="/mychart">MyChart (the patient side)</a></p>'
        )
        return page("Schedule: Virtual Care Clinic", body, who=WHO)

    def _mychart_page(self) -> Response:
        items = "".join(
            f"<li>{visit.siu.start:%d %b %H:%M} UTC, video visit with Dr Grey for {escape(visit.patient_name)} "
            f'<a class="button" href="/begin/patient?{urlencode({"csn": visit.csn})}">Begin video visit</a></li>'
            for visit in self.visits.values()
        )
        device_test = (
            f'<p><a class="button" href="{escape(self.interface.device_test_url)}">Test your device</a></p>'
            if self.interface
            else ""
        )
        return page("MyChart: upcoming visits", f"<ul>{items}</ul>{device_test}", who=WHO)

    def _begin(self, role: str, csn: str) -> Response:
        """An EHR launch: a launch id carrying the visit's context, then off to the connector."""
        visit = self.visits.get(csn)
        if role == "provider" and not csn:
            # From the In Basket rather than a visit: Epic's authorize page will ask which visit.
            launch = self.new_launch(fhirUser=f"{self.fhir_base_url}/Practitioner/{PROVIDER[0]}")
            query = urlencode({"iss": self.fhir_base_url, "launch": launch})
            return Response(302, headers={"Location": f"{self.connector_url}/api/launch/provider?{query}"})
        if visit is None:
            return page("Unknown visit", "<p>No visit has that CSN.</p>", status=404, who=WHO)
        launch = self.launch_visit(self.fhir_visits[csn], role)
        extra = {"departmentId": DEPARTMENT[0]} if role == "provider" else {}
        query = urlencode({"iss": self.fhir_base_url, "launch": launch, "sessionId": csn, **extra})
        return Response(302, headers={"Location": f"{self.connector_url}/api/launch/{role}?{query}"})

    def _send(self, form: dict[str, str]) -> Response:
        """A scheduling button: move the visit if asked, send its SIU, note the ACK, back to the schedule."""
        visit, action = self.visits.get(form.get("csn", "")), form.get("action", "")
        if visit is None or action not in EVENTS:
            return page("Not sent", "<p>Unknown visit or action.</p>", status=400, who=WHO)
        if self.interface is None:
            return page("Not sent", "<p>The SIU feed is not connected yet.</p>", status=409, who=WHO)
        with self._lock:
            if action == "reschedule":
                visit = replace(visit, siu=replace(visit.siu, start=visit.siu.start + dt.timedelta(minutes=30)))
                self.visits[visit.csn] = visit
                self._publish(visit)
            answer = send_siu(self.interface, siu_message(visit.siu, action))
            self.acks[visit.csn] = f"{EVENTS[action][0]}: {answer}"
        return Response(303, headers={"Location": "/"})


def send_siu(interface: Interface, body: bytes) -> str:
    """POST one signed SIU message to the ingress; returns the ACK's MSA-1 (AA, AE, AR) or the HTTP error."""
    import requests

    from shared.hl7v2.send import sender_token

    token = sender_token(interface.key_pem, interface.ingress_url, body)
    try:
        answer = requests.post(
            interface.ingress_url,
            data=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/hl7-v2"},
            timeout=30,
        )
    except requests.RequestException as exc:
        return f"not delivered ({type(exc).__name__})"
    for segment in answer.text.replace("\n", "\r").split("\r"):
        if segment.startswith("MSA|"):
            return segment.split("|")[1]
    return f"HTTP {answer.status_code}"
