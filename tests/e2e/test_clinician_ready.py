""" "Your clinician is ready" over real HTTP: an SIU booking, then the provider's launches; the patient who has not
joined gets one SMS with the link, however often the provider launches; a patient already there gets none."""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import requests

from shared import bootstrap
from shared.domain.config import SmsSettings
from tests.e2e import test_launch
from tests.e2e.test_launch import PATIENT_ID, PROVIDER_ID, TEAMS, Launch
from tests.hl7_support import FROM_NUMBER, Sender, seed_sender, siu

READY = "clinician is ready"
launch = test_launch.launch
"""The launch world's fixture: the local host, Azurite, and Epic, Entra and Graph stand-ins."""


def ready_endpoint(launch: Launch, *, ready: bool = True) -> Sender:
    """An endpoint at Epic's FHIR base that texts confirmations and (if `ready`) that the clinician is ready."""
    sms = SmsSettings(True, False, (), FROM_NUMBER, clinician_ready_enabled=ready)
    sender = seed_sender("EU", fhir_base_url=launch.epic.fhir_base_url, sms=sms)
    bootstrap.reset()
    return sender


def booked_visit(launch: Launch, sender: Sender, *, starts_in: timedelta = timedelta(minutes=10)):
    """One visit at Epic, booked through SIU; returns once its confirmation is sent."""
    start = (datetime.now(UTC) + starts_in).replace(microsecond=0)
    csn = str(uuid.uuid4().int)[:9]
    visit = launch.epic.add_visit(
        csn, patient_id=PATIENT_ID, provider_id=PROVIDER_ID, start=start, end=start + timedelta(minutes=20)
    )
    body = siu("S12", appointment_id=csn, start=start)
    ack = requests.post(
        f"{launch.host.base_url}/api/hl7/{sender.endpoint.id}", data=body, headers=sender.headers(body), timeout=30
    )
    assert "MSA|AA" in ack.text
    sent = len(outbox(launch))
    wait_for(launch, lambda texts: len(texts) == sent + 1)  # the confirmation
    return visit, csn


def outbox(launch: Launch) -> list[dict]:
    path = Path(launch.env["SMS_OUTBOX_PATH"])
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def wait_for(launch: Launch, done, seconds: float = 30) -> list[dict]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if done(texts := outbox(launch)):
            return texts
        time.sleep(0.1)
    raise AssertionError(f"outbox never reached the expected state: {[t['text'][:40] for t in outbox(launch)]}")


def settle(launch: Launch, seconds: float = 2.0) -> list[dict]:
    """The outbox after the queue has had time to send whatever it was going to."""
    time.sleep(seconds)
    return outbox(launch)


def test_the_patient_is_texted_once_however_often_the_provider_launches(launch: Launch) -> None:
    visit, csn = booked_visit(launch, ready_endpoint(launch))

    launch.provider(visit, csn)  # the first launch signs in to Microsoft 365 first
    wait_for(launch, lambda texts: len(texts) == 2)
    launch.provider(visit, csn)
    launch.provider(visit, csn)

    ready = [text for text in settle(launch) if READY in text["text"]]
    assert len(ready) == 1
    assert "/api/join#eu-" in ready[0]["text"]
    assert ready[0]["segments"] <= 2


def test_a_patient_who_came_before_the_meeting_existed_is_texted(launch: Launch) -> None:
    """Without an organiser a patient's launch before the provider's is asked to come back: they are not in
    the visit, so the provider's launch tells them to come now."""
    visit, csn = booked_visit(launch, ready_endpoint(launch))
    launch.patient(visit, csn)
    launch.provider(visit, csn)
    assert [READY in text["text"] for text in wait_for(launch, lambda texts: len(texts) == 2)] == [False, True]


def organised(sender: Sender) -> Sender:
    """The endpoint with an organiser: a patient may open the meeting before the provider."""
    store = bootstrap.get_config_store()
    current = store.read_endpoint(sender.endpoint.id)
    changed = replace(current.value, organizer_user_id="visits@hospital.example")
    store.replace_endpoint(changed, current.etag, old_url=changed.fhir_base_url)
    bootstrap.reset()
    return sender


def test_a_patient_already_in_the_visit_is_not_texted(launch: Launch) -> None:
    visit, csn = booked_visit(launch, organised(ready_endpoint(launch)))
    _, hops = launch.patient(visit, csn)
    assert urlsplit(hops[-1]).hostname == TEAMS

    launch.provider(visit, csn)

    assert [READY in text["text"] for text in settle(launch)] == [False]


def test_a_patient_who_came_through_the_sms_link_is_not_texted(launch: Launch) -> None:
    visit, csn = booked_visit(launch, organised(ready_endpoint(launch)))
    [confirmation] = outbox(launch)
    token = re.search(r"/api/join#(\S+)", confirmation["text"]).group(1)
    joined = requests.post(f"{launch.host.base_url}/api/join", data={"token": token}, allow_redirects=False, timeout=30)
    assert joined.status_code == 302

    launch.provider(visit, csn)

    assert [READY in text["text"] for text in settle(launch)] == [False]


def test_no_ready_text_when_the_endpoint_has_it_switched_off(launch: Launch) -> None:
    visit, csn = booked_visit(launch, ready_endpoint(launch, ready=False))
    launch.provider(visit, csn)
    assert [READY in text["text"] for text in settle(launch)] == [False]


def test_no_ready_text_before_the_link_opens_the_meeting(launch: Launch) -> None:
    visit, csn = booked_visit(launch, ready_endpoint(launch), starts_in=timedelta(hours=3))
    launch.provider(visit, csn)
    assert [READY in text["text"] for text in settle(launch)] == [False]
