"""AcsSmsSender with the real azure-communication-sms SDK against an HTTPS stand-in that checks its signature."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from localworld.acs_sms import AcsSmsStandIn, accepted, recipient_failed
from localworld.server import Response
from shared.adapters.acs_sms import AcsSmsSender, retry_after_seconds
from shared.domain.sms import OutboundSms, Repeatability
from shared.errors import SmsOutcomeUnknownError, UpstreamError
from shared.settings import AcsConnection

SMS = OutboundSms(job_id="job-7f3a", from_number="+18005550100", to_number="+12605551234", text="Your visit...")


def sender_for(stand_in: AcsSmsStandIn, access_key: str | None = None, **options: object) -> AcsSmsSender:
    connection_string = stand_in.connection_string(access_key)
    connection = AcsConnection(endpoint=f"{stand_in.url}/", connection_string=connection_string)
    return AcsSmsSender(connection, connection_verify=stand_in.ca_file, **options)


def test_an_accepted_sms_is_sent_once_with_delivery_reports_and_the_job_tag() -> None:
    with AcsSmsStandIn([accepted("msg-42")]) as acs:
        receipt = sender_for(acs).send(SMS)
    assert (receipt.job_id, receipt.accepted, receipt.message_id, receipt.http_status) == (
        "job-7f3a",
        True,
        "msg-42",
        202,
    )
    [body] = acs.bodies()
    assert body["from"] == "+18005550100"
    assert [recipient["to"] for recipient in body["smsRecipients"]] == ["+12605551234"]
    assert body["message"] == "Your visit..."
    assert body["smsSendOptions"] == {"enableDeliveryReport": True, "tag": "job-7f3a"}


def test_throttling_is_handed_back_at_once_with_its_retry_after() -> None:
    with (
        AcsSmsStandIn([Response.json({"error": {"code": "TooManyRequests"}}, 429, {"Retry-After": "37"})]) as acs,
        pytest.raises(UpstreamError) as raised,
    ):
        sender_for(acs).send(SMS)
    assert raised.value.retryable
    assert raised.value.retry_after == 37
    assert len(acs.requests) == 1  # the SDK did not sit out the 37 seconds itself


def test_a_brief_server_error_is_retried_by_the_sdk_with_the_same_repeatability_id() -> None:
    with AcsSmsStandIn([Response.json({"error": {"code": "InternalError"}}, 500), accepted("msg-2")]) as acs:
        receipt = sender_for(acs).send(SMS)
    assert (receipt.accepted, receipt.message_id) == (True, "msg-2")
    first, second = acs.bodies()
    assert first["smsRecipients"][0]["repeatabilityRequestId"] == second["smsRecipients"][0]["repeatabilityRequestId"]


def test_a_lasting_server_error_is_retryable_after_a_few_tries() -> None:
    with (
        AcsSmsStandIn([Response.json({"error": {"code": "ServiceUnavailable"}}, 503)]) as acs,
        pytest.raises(UpstreamError) as raised,
    ):
        sender_for(acs).send(SMS)
    assert raised.value.retryable
    assert len(acs.requests) == 3


def test_a_refused_recipient_is_a_permanent_failure_without_the_number() -> None:
    with AcsSmsStandIn([recipient_failed(400, "Invalid To phone number format +12605551234.")]) as acs:
        receipt = sender_for(acs).send(SMS)
    assert (receipt.accepted, receipt.http_status) == (False, 400)
    assert "2605551234" not in receipt.reason
    assert len(acs.requests) == 1


def test_a_throttled_recipient_is_retryable() -> None:
    with (
        AcsSmsStandIn([recipient_failed(429, "Too many requests")]) as acs,
        pytest.raises(UpstreamError) as raised,
    ):
        sender_for(acs).send(SMS)
    assert raised.value.retryable


def test_a_bad_request_is_a_permanent_failure() -> None:
    with AcsSmsStandIn([Response.json({"error": {"code": "BadRequest"}}, 400)]) as acs:
        receipt = sender_for(acs).send(SMS)
    assert (receipt.accepted, receipt.http_status) == (False, 400)


def test_a_wrong_key_is_refused_and_kept_for_an_operator() -> None:
    with (
        AcsSmsStandIn() as acs,
        pytest.raises(UpstreamError, match="credentials") as raised,
    ):
        sender_for(acs, access_key="d3Jvbmcga2V5IGZvciB0aGlzIHJlc291cmNl").send(SMS)
    assert raised.value.retryable  # the queue host retries, then keeps it in -poison
    assert [request.path for request in acs.requests] == ["/sms"]


def test_a_timeout_is_an_unknown_outcome_that_may_be_repeated() -> None:
    with (
        AcsSmsStandIn([accepted()], delay_seconds=1.5) as acs,
        pytest.raises(SmsOutcomeUnknownError, match="in time") as raised,
    ):
        sender_for(acs, read_timeout=0.3).send(SMS)
    assert raised.value.retryable
    assert raised.value.repeatable
    assert len(acs.sent) == 1  # ACS carried it out; only its answer was lost


def test_our_repeatability_pair_replaces_the_sdks_and_a_repeat_is_answered_without_a_second_sms() -> None:
    pair = Repeatability(str(uuid.uuid4()), datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2))
    with AcsSmsStandIn() as acs:
        first = sender_for(acs).send(dataclasses.replace(SMS, repeatability=pair))
        again = sender_for(acs).send(dataclasses.replace(SMS, repeatability=pair))
        assert len(acs.sent) == 1
        recipients = [body["smsRecipients"][0] for body in acs.bodies()]
    assert first.message_id == again.message_id
    assert {r["repeatabilityRequestId"] for r in recipients} == {pair.request_id}
    assert {r["repeatabilityFirstSent"] for r in recipients} == {format_datetime(pair.first_sent, usegmt=True)}


def test_a_repeat_that_differs_from_the_first_request_is_refused() -> None:
    pair = Repeatability(str(uuid.uuid4()), datetime.now(UTC))
    with AcsSmsStandIn() as acs:
        sender_for(acs).send(dataclasses.replace(SMS, repeatability=pair))
        receipt = sender_for(acs).send(dataclasses.replace(SMS, text="Another text", repeatability=pair))
        assert len(acs.sent) == 1
    assert (receipt.accepted, receipt.http_status) == (False, 400)


def test_a_repeat_first_sent_outside_the_window_gets_412_an_unknown_outcome_not_to_repeat() -> None:
    pair = Repeatability(str(uuid.uuid4()), datetime.now(UTC) - timedelta(minutes=6))
    with (
        AcsSmsStandIn() as acs,
        pytest.raises(SmsOutcomeUnknownError, match="412") as raised,
    ):
        sender_for(acs).send(dataclasses.replace(SMS, repeatability=pair))
    assert not raised.value.repeatable
    assert acs.sent == []
    [item] = json.loads(acs.requests[0].body)["smsRecipients"]
    assert item["repeatabilityRequestId"] == pair.request_id


def test_retry_after_forms() -> None:
    now = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    assert retry_after_seconds({"Retry-After": "12"}) == 12
    assert retry_after_seconds({"retry-after-ms": "1500", "Retry-After": "9"}) == 1.5
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert retry_after_seconds({"Retry-After": later}, now=now) == 90
    assert retry_after_seconds({"Retry-After": "soon"}) is None
    assert retry_after_seconds({}) is None
