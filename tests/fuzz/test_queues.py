"""Queue payloads and HL7 bodies, fuzzed with Hypothesis (issue 15.7).

Every queue function of the app gets arbitrary bytes, arbitrary JSON and JSON shaped like its own messages
with hostile values. Wanted: it completes (a message it can never process goes to its poison queue) or
raises for the host's retry only a documented way: ValueError for a message that is not JSON (the host
retries, then keeps it in `-poison`) or a retryable ConnectorError. Anything else (KeyError, TypeError, ...)
is an unhandled exception. Signed HL7 bodies go through the real ingress and then the queue function.
"""

from __future__ import annotations

import json
import logging

import azure.functions as func
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import function_app
from shared.devhost.functions import read_functions
from shared.errors import ConnectorError
from tests.appcalls import call
from tests.fuzz.conftest import FUZZ_EXAMPLES, record
from tests.fuzz.test_routes import JSON, TEXT
from tests.hl7_support import seed_sender, siu

QUEUE_FUNCTIONS = [function.name for function in read_functions(function_app.app, {}).queue]
FIELDS = ["v", "endpoint", "received", "body", "blob", "job_id", "kind", "event_id", "org", "geo", "attempt"]
SHAPED = st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=6)
PAYLOADS = st.one_of(
    st.binary(max_size=200),
    JSON.map(lambda value: json.dumps(value).encode()),
    SHAPED.map(lambda value: json.dumps(value).encode()),
)
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=list(HealthCheck),
)


def _deliver(name: str, body: bytes) -> str:
    """Run queue function `name` on one message; what the host would do next."""
    try:
        call(name, func.QueueMessage(id="fuzz", body=body))
    except ValueError as error:
        if _decodes(body):
            raise AssertionError(f"{name} raised {error!r} on a JSON message") from error
        return "retried, then poisoned"
    except ConnectorError as error:
        if not error.retryable:
            raise AssertionError(f"{name} raised a permanent {type(error).__name__}: {error.message}") from error
        return "retried"
    return "completed"


def _decodes(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("name", QUEUE_FUNCTIONS)
def test_a_queue_function_handles_any_message(
    name: str, config_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    @FUZZ
    @given(PAYLOADS)
    def one_message(body: bytes) -> None:
        record(f"queue {name}", 200 if _deliver(name, body) == "completed" else 202)

    one_message()
    assert [r.getMessage()[:300] for r in caplog.records if r.levelno >= logging.ERROR] == []


HL7_FIELDS = st.lists(TEXT.map(lambda text: text.replace("\r", "")), max_size=6).map("|".join)
HL7_BODIES = st.one_of(
    st.binary(max_size=400),
    HL7_FIELDS.map(lambda fields: siu() + f"NTE|{fields}\r".encode()),
    HL7_FIELDS.map(lambda fields: f"MSH|^~\\&|{fields}\rSCH|{fields}\rPID|{fields}\r".encode()),
)


def test_signed_hl7_bodies_are_acknowledged_and_then_processed(
    config_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    sender = seed_sender("EU")

    @FUZZ
    @given(HL7_BODIES)
    def one_message(body: bytes) -> None:
        request = func.HttpRequest(
            "POST",
            sender.audience,
            headers=sender.headers(body),
            route_params={"endpointId": sender.endpoint.id},
            body=body,
        )
        response = call("receive_hl7_message", request)
        record("POST /api/hl7/{endpointId} (signed)", response.status_code)
        assert response.status_code < 500
        assert response.get_body().startswith(b"MSH|")
        if response.status_code == 200:
            payload = {"v": 1, "endpoint": sender.endpoint.id, "received": "2026-12-01T00:00:00+00:00"}
            text = body.decode("utf-8", "replace").strip("\x0b\x1c\r\n")
            _deliver("process_hl7_message_eu", json.dumps({**payload, "body": text}).encode())

    one_message()
    assert [r.getMessage()[:300] for r in caplog.records if r.levelno >= logging.ERROR] == []
