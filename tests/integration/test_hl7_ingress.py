"""`POST /api/hl7/{endpointId}` through the app object: every outcome is an ACK with its HTTP status."""

from __future__ import annotations

import contextlib
import json
import time
import uuid

import azure.functions as func
import hl7
import jwt
import pytest
from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import QueueClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.domain.config import EndpointStatus
from shared.domain.sender_token import body_hash
from tests.appcalls import call
from tests.hl7_support import Sender, seed_sender, siu


def post(sender_or_id: Sender | str, body: bytes, headers: dict[str, str] | None = None) -> func.HttpResponse:
    endpoint_id = sender_or_id if isinstance(sender_or_id, str) else sender_or_id.endpoint.id
    request = func.HttpRequest(
        "POST",
        f"http://127.0.0.1:7071/api/hl7/{endpoint_id}",
        headers=headers or {},
        route_params={"endpointId": endpoint_id},
        body=body,
    )
    return call("receive_hl7_message", request)


def ack_of(response: func.HttpResponse) -> str:
    text = response.get_body().decode()
    assert text.startswith("MSH|")
    assert response.mimetype == "application/hl7-v2"
    return text


def queued(env: dict[str, str], geo: str) -> list[dict]:
    client = QueueClient.from_connection_string(env[f"GEO_{geo}_STORAGE"], "hl7-inbound")
    with contextlib.suppress(ResourceExistsError):
        client.create_queue()
    messages = client.receive_messages(max_messages=32, visibility_timeout=1)
    return [json.loads(m.content) for m in messages]


@pytest.fixture
def sender(config_env: dict[str, str]) -> Sender:
    return seed_sender("EU")


def test_a_signed_message_is_queued_in_its_geography_and_acknowledged(sender: Sender, config_env) -> None:
    body = siu(control_id="c-ok")
    response = post(sender, body, sender.headers(body))
    ack = ack_of(response)
    assert response.status_code == 200
    assert "MSA|AA|c-ok" in ack
    mine = [m for m in queued(config_env, "EU") if m["endpoint"] == sender.endpoint.id]
    assert [m["body"] for m in mine] == [body.decode().rstrip("\r")]
    assert not [m for m in queued(config_env, "US") if m["endpoint"] == sender.endpoint.id]


def test_a_message_above_the_queue_limit_waits_in_a_blob(sender: Sender, config_env) -> None:
    body = siu(control_id="c-big") + b"NTE|1||" + b"x" * 70_000 + b"\r"
    response = post(sender, body, sender.headers(body))
    assert response.status_code == 200
    [message] = [m for m in queued(config_env, "EU") if m["endpoint"] == sender.endpoint.id]
    assert "body" not in message
    assert message["blob"].startswith(sender.endpoint.id)


def refusal(response: func.HttpResponse, status: int, reason: str) -> None:
    ack = ack_of(response)
    assert response.status_code == status, ack
    assert "MSA|AR" in ack or "MSA|AE" in ack
    assert "ERR|" in ack
    assert reason in ack


@pytest.mark.usefixtures("config_env")
def test_unknown_endpoint() -> None:
    body = siu()
    refusal(post("ep-nope", body, {"Authorization": "Bearer x.y.z"}), 404, "Unknown endpoint")


@pytest.mark.usefixtures("config_env")
def test_an_endpoint_that_is_not_approved_is_refused_to_its_sender_only() -> None:
    sender = seed_sender("EU", status=EndpointStatus.PENDING_APPROVAL)
    body = siu()
    refusal(post(sender, body, sender.headers(body)), 409, "not approved")
    # Issue 15.6: a stranger (no token, or another sender's) learns nothing of the endpoint's status.
    stranger = seed_sender("EU")
    for headers in ({}, {"Authorization": "Bearer x.y.z"}, stranger.headers(body)):
        response = post(sender, body, headers)
        assert response.status_code == 401
        assert "approved" not in ack_of(response)
        assert "pending" not in ack_of(response)


@pytest.mark.usefixtures("config_env")
def test_no_certificate_and_expired_certificate_refuse_like_a_wrong_key(caplog: pytest.LogCaptureFixture) -> None:
    body = siu()
    caplog.set_level("INFO")
    no_keys = seed_sender("EU", with_keys=False)
    refusal(post(no_keys, body, no_keys.headers(body)), 401, "not signed with a key this endpoint accepts")
    expired = seed_sender("EU", certificate_expired=True)
    refusal(post(expired, body, expired.headers(body)), 401, "not signed with a key this endpoint accepts")
    assert "expired" not in ack_of(post(expired, body, expired.headers(body)))
    assert any("expired" in record.getMessage() for record in caplog.records)  # the operator still sees why


def test_bad_tokens_are_refused_with_reasons(sender: Sender) -> None:
    body = siu()
    other = seed_sender("EU")
    now = int(time.time())
    expired = jwt.encode(
        {"aud": sender.audience, "iat": now - 900, "exp": now - 600, "jti": "j1"},
        _private_key(sender),
        algorithm="RS384",
    )
    cases = [
        ({}, "Bearer"),
        ({"Authorization": "Basic abc"}, "Bearer"),
        ({"Authorization": "Bearer not-a-jwt"}, "well-formed"),
        (other.headers(body), "signature"),
        ({"Authorization": f"Bearer {expired}"}, "expired"),
        (sender.headers(b"another body"), "does not match"),
    ]
    for headers, reason in cases:
        refusal(post(sender, body, headers), 401, reason)


def test_a_replayed_token_that_does_not_bind_the_body_is_refused(sender: Sender) -> None:
    body = siu()
    now = int(time.time())
    plain = jwt.encode(
        {"aud": sender.audience, "iat": now, "exp": now + 60, "jti": str(uuid.uuid4())},
        _private_key(sender),
        algorithm="RS384",
    )
    headers = {"Authorization": f"Bearer {plain}"}
    assert post(sender, body, headers).status_code == 200
    refusal(post(sender, body, headers), 401, "used already")
    refusal(post(sender, siu(control_id="another"), headers), 401, "used already")


def test_a_replayed_body_bound_token_brings_only_its_own_message_again(sender: Sender, config_env) -> None:
    """Not recorded in the replay guard: the same message again is a resend, absorbed by MSH-10 idempotency
    (`tests/unit/test_appointment.py`, redelivery); any other body is refused by the hash."""
    body = siu(control_id="c-replayed")
    headers = sender.headers(body)
    assert post(sender, body, headers).status_code == 200
    assert "MSA|AA|c-replayed" in ack_of(post(sender, body, headers))
    refusal(post(sender, siu(control_id="c-other"), headers), 401, "does not match")
    mine = [m["body"] for m in queued(config_env, "EU") if m["endpoint"] == sender.endpoint.id]
    assert mine == [body.decode().rstrip("\r")] * 2


@pytest.mark.usefixtures("config_env")
def test_a_required_body_hash_must_be_present() -> None:
    sender = seed_sender("EU", require_body_hash=True)
    body = siu()
    now = int(time.time())
    plain = jwt.encode(
        {"aud": sender.audience, "iat": now, "exp": now + 60, "jti": str(uuid.uuid4())},
        _private_key(sender),
        algorithm="RS384",
    )
    refusal(post(sender, body, {"Authorization": f"Bearer {plain}"}), 401, "requires the body_sha256")
    assert post(sender, body, sender.headers(body)).status_code == 200


@pytest.mark.parametrize(("body", "status"), [(b"", 400), (b"\x00\xff garbage", 400), (b"PID|1||x\r", 400)])
def test_bodies_that_are_not_hl7_are_refused(sender: Sender, body: bytes, status: int) -> None:
    refusal(post(sender, body, sender.headers(body)), status, "not an HL7 v2 message")


def test_a_body_above_1_mib_is_refused(sender: Sender) -> None:
    body = siu() + b"x" * (1024 * 1024)
    refusal(post(sender, body, sender.headers(body)), 413, "larger than 1 MiB")


def test_an_mllp_framed_body_is_accepted(sender: Sender) -> None:
    body = b"\x0b" + siu(control_id="c-mllp") + b"\x1c\r"
    response = post(sender, body, sender.headers(body))
    assert response.status_code == 200
    assert "MSA|AA|c-mllp" in ack_of(response)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(st.binary(max_size=400), st.text(max_size=400).map(str.encode)))
def test_fuzzed_bodies_never_get_a_server_error(sender: Sender, body: bytes) -> None:
    response = post(sender, body, sender.headers(body))
    assert response.status_code in (200, 400)
    ack = ack_of(response)
    assert ("MSA|AA" in ack) == (response.status_code == 200)
    if response.status_code == 400:
        assert "ERR|" in ack


def _private_key(sender: Sender):
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key(sender.key_pem, password=None)


def test_body_hash_helper_matches_the_contract() -> None:
    assert body_hash(b"") == "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"


@pytest.mark.usefixtures("config_env")
@pytest.mark.parametrize(
    "endpoint_id",
    ["a%2Fb", "a/b", "ep\x00x", "ep\r\nSet-Cookie: x", "ep#1", "ep?x=1", "e" * 65, "ep_" + "é" * 10, ""],
    ids=["encoded-slash", "slash", "nul", "crlf", "hash", "query", "too-long", "non-ascii", "empty"],
)
def test_an_endpoint_id_that_cannot_exist_is_404_ar_at_once(endpoint_id: str) -> None:
    body = siu(control_id="c-hostile-id")
    response = post(endpoint_id, body, {"Authorization": "Bearer x.y.z"})
    refusal(response, 404, "Unknown endpoint")
    assert "MSA|AR|c-hostile-id" in ack_of(response)


def long_id_message(length: int) -> bytes:
    return siu(appointment_id="9" * length, control_id=f"c-long-{length}")


@pytest.mark.parametrize(
    ("body", "reason", "error_code"),
    [
        (long_id_message(257), "appointment id in SCH-2/SCH-1 is too long", "102"),
        (siu(appointment_id="é" * 100, control_id="c-utf8-id"), "too long", "102"),
        (siu(control_id="c-no-sch").replace(b"\rSCH|", b"\rZZZ|"), "SCH segment missing", "100"),
        (siu(control_id="c-no-start").replace(b"|^^30^", b"|^^30^x").replace(b"\rAIS|", b"\rZZZ|"), "no start time",
         "101"),
        (siu(control_id="c-msh7").replace(b"|SIU^", b"|SIU^", 1).replace(b"+0000||SIU", b"+9999||SIU", 1), "MSH-7",
         "102"),
        (siu(control_id="c-batch-1") + siu(control_id="c-batch-2"), "more than one message", "100"),
    ],
    ids=["id-257", "id-utf8", "no-sch", "no-start", "bad-msh7", "two-messages"],
)  # fmt: skip
def test_a_message_the_queue_could_never_apply_is_400_ar_and_not_queued(
    sender: Sender, config_env: dict[str, str], body: bytes, reason: str, error_code: str
) -> None:
    response = post(sender, body, sender.headers(body))
    refusal(response, 400, reason)
    ack = hl7.parse(ack_of(response))
    assert str(ack.segment("MSA")(1)) == "AR"
    assert str(ack.segment("ERR")(3)).startswith(f"{error_code}^")
    assert all(item["endpoint"] != sender.endpoint.id for item in queued(config_env, "EU"))


def test_the_longest_appointment_id_is_accepted(sender: Sender) -> None:
    body = long_id_message(256)
    assert post(sender, body, sender.headers(body)).status_code == 200


@pytest.mark.parametrize(
    ("exp", "reason"),
    [(10**20, "NumericDate"), (1e308, "NumericDate"), ("soon", "DecodeError")],
    ids=["exp-1e20", "exp-1e308", "exp-text"],
)
def test_a_validly_signed_token_with_an_absurd_exp_is_401_ar(sender: Sender, exp: object, reason: str) -> None:
    body = siu(control_id="c-absurd-exp")
    now = int(time.time())
    token = jwt.encode(
        {"aud": sender.audience, "iat": now, "exp": exp, "jti": str(uuid.uuid4())}, _private_key(sender), "RS384"
    )
    response = post(sender, body, {"Authorization": f"Bearer {token}"})
    refusal(response, 401, reason)
    assert "MSA|AR|c-absurd-exp" in ack_of(response)
