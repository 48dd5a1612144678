"""The patient's language from PID-15 and the department from AIL-3, through the hl7-inbound work against Azurite:
the SMS is written in the patient's language (else the endpoint's default), and its job says kind, language and
segments; an unknown PID-15 is counted in the log without patient data."""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import replace

import pytest

from shared import bootstrap
from shared.adapters.appointments import AppointmentStore
from shared.adapters.storage import StorageAccount
from shared.domain.appointment import appointment_key
from shared.domain.config import SmsSettings
from shared.domain.sms_job import SmsJob
from shared.domain.sms_templates import CustomText
from shared.domain.sms_text import SmsKind
from shared.queue_names import SMS_OUTBOUND_QUEUE
from shared.services.notices import NoticePolicy
from shared.services.scheduling import process_hl7_message
from tests.hl7_support import FROM_NUMBER, seed_sender
from tests.samples import EXPECTED, sample

NOW = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
POLICY = NoticePolicy(public_base_url="http://127.0.0.1:7071", phone_region="US", purge_grace=dt.timedelta(hours=1))
SAMPLE = "epic_v251_s12.hl7"


def with_pid15(body: bytes, language: str) -> str:
    """The sample with PID-15 (primary language) set to `language`."""
    segments = body.decode("utf-8").split("\r")
    for index, segment in enumerate(segments):
        if segment.startswith("PID|"):
            fields = segment.split("|")
            fields += [""] * (16 - len(fields))
            fields[15] = language
            segments[index] = "|".join(fields)
    return "\r".join(segments)


def post(account: StorageAccount, endpoint_id: str, body: str) -> str:
    return process_hl7_message(
        {"v": 1, "endpoint": endpoint_id, "body": body},
        geo="EU",
        account=account,
        directory=bootstrap.get_directory(),
        join_tokens=bootstrap.get_join_tokens(),
        policy=POLICY,
        now=NOW,
    )


def jobs(account: StorageAccount, endpoint_id: str) -> list[SmsJob]:
    client = account.queue(SMS_OUTBOUND_QUEUE).client
    found = [SmsJob.from_message(json.loads(m.content)) for m in client.peek_messages(max_messages=32)]
    return [job for job in found if job.endpoint_id == endpoint_id]


@pytest.fixture
def endpoint(config_env: dict[str, str]):
    def make(default_language: str = "en", texts: tuple[CustomText, ...] = ()) -> str:
        sms = SmsSettings(True, False, (), FROM_NUMBER, default_language=default_language)
        sender = seed_sender("EU", sms=sms)
        if texts:
            store = bootstrap.get_config_store()
            current = store.read_endpoint(sender.endpoint.id)
            store.replace_endpoint(
                replace(current.value, sms_texts=texts), current.etag, old_url=current.value.fhir_base_url
            )
        return sender.endpoint.id

    return make


@pytest.mark.parametrize(
    ("pid15", "language", "words"),
    [
        ("SPA^Spanish^ISO6392", "es", "su videoconsulta es el 12 jun 2025 a las 5:30 p.m. EDT"),
        ("dan^Danish", "da", "din videokonsultation er booket tors. 12. jun. 2025 kl. 17.30 EDT"),
        ("it", "it", "la sua visita video è fissata per gio 12 giu 2025 alle 17:30 EDT"),
        ("eng^English", "en", "your video visit is booked for Thu, Jun 12, 2025 at 5:30 PM EDT"),
    ],
)
def test_the_confirmation_is_in_the_patients_language(
    endpoint, spare_account: StorageAccount, pid15: str, language: str, words: str
) -> None:
    endpoint_id = endpoint()
    assert post(spare_account, endpoint_id, with_pid15(sample(SAMPLE), pid15)) == "applied"
    [job] = jobs(spare_account, endpoint_id)
    assert (job.kind, job.language) == (SmsKind.SCHEDULED, language)
    assert words in job.text
    assert job.segments == 2


def test_an_unknown_language_falls_back_to_the_default_and_is_counted_without_patient_data(
    endpoint, spare_account: StorageAccount, caplog: pytest.LogCaptureFixture
) -> None:
    endpoint_id = endpoint(default_language="da")
    caplog.set_level(logging.INFO)
    post(spare_account, endpoint_id, with_pid15(sample(SAMPLE), "KLINGON-X9^Klingon"))
    [job] = jobs(spare_account, endpoint_id)
    assert job.language == "da"
    assert "videokonsultation" in job.text
    counted = [r.getMessage() for r in caplog.records if "language_unknown=1" in r.getMessage()]
    assert len(counted) == 1
    assert "KLINGON" not in caplog.text
    assert "Klingon" not in caplog.text
    assert EXPECTED[SAMPLE].phone not in caplog.text


def test_the_departments_text_is_used_and_the_department_is_kept(endpoint, spare_account: StorageAccount) -> None:
    texts = (
        CustomText(SmsKind.SCHEDULED, "en", "SEAPC", "{sender} at {department}: {date}, {time}. {link}"),
        CustomText(SmsKind.SCHEDULED, "en", "OTHER", "Other department {link}"),
    )
    endpoint_id = endpoint(texts=texts)
    post(spare_account, endpoint_id, sample(SAMPLE).decode("utf-8"))
    [job] = jobs(spare_account, endpoint_id)
    assert job.text.startswith("Riverside Clinic at SEATTLE PRIMARY CARE: Thu, Jun 12, 2025, 5:30 PM EDT. http")
    assert job.segments == 1
    state = AppointmentStore(spare_account).get(endpoint_id, appointment_key(EXPECTED[SAMPLE].appointment_id))[0]
    assert (state.department_id, state.department_name, state.language) == ("SEAPC", "SEATTLE PRIMARY CARE", None)
