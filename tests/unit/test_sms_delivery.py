"""Delivery tags, delivery outcomes, STOP/START keywords, the opt-out key, and report ranges and tokens."""

from __future__ import annotations

from datetime import date

import pytest

from shared.domain.phone import international_to_e164
from shared.domain.reports import Cursor, decode_cursor, encode_cursor, parse_report_range, to_csv
from shared.domain.sms_delivery import (
    Delivery,
    Keyword,
    TagRef,
    classify_delivery,
    delivery_tag,
    keyword_of,
    opt_out_key,
    parse_delivery_report,
    parse_delivery_tag,
    parse_inbound_sms,
)
from shared.errors import InvalidMessageError, InvalidRequestError


def test_a_tag_round_trips() -> None:
    assert parse_delivery_tag(delivery_tag("EU", "ep-1", "abc")) == TagRef("EU", "ep-1", "abc")


@pytest.mark.parametrize("tag", [None, "", "abc", "v2|EU|ep|job", "v1|EU||job", 7])
def test_foreign_tags_are_refused(tag: object) -> None:
    with pytest.raises(InvalidMessageError):
        parse_delivery_tag(tag)


@pytest.mark.parametrize(
    ("status", "details", "expected"),
    [
        ("Delivered", "No error.", Delivery.DELIVERED),
        ("Failed", "Recipient has opted out", Delivery.OPTED_OUT),
        ("Failed", "Invalid destination number", Delivery.INVALID_NUMBER),
        ("Failed", "Destination unreachable", Delivery.UNREACHABLE),
        ("Failed", "Message blocked by carrier", Delivery.BLOCKED),
        ("Failed", "Carrier flagged the message as spam", Delivery.SPAM),
        ("Failed", "", Delivery.OTHER),
    ],
)
def test_outcomes_are_read_from_the_details(status: str, details: str, expected: Delivery) -> None:
    assert classify_delivery(status, details) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("STOP", Keyword.STOP),
        (" stop. ", Keyword.STOP),
        ("Unsubscribe", Keyword.STOP),
        ("start", Keyword.START),
        ("UNSTOP", Keyword.START),
        ("stop by at 3?", None),
        ("thanks", None),
        ("", None),
    ],
)
def test_keywords(text: str, expected: Keyword | None) -> None:
    assert keyword_of(text) == expected


def test_the_opt_out_key_depends_on_the_secret_and_both_numbers() -> None:
    key = opt_out_key(b"s" * 32, "+18005550100", "+16175550123")
    assert "6175550123" not in key
    assert key != opt_out_key(b"t" * 32, "+18005550100", "+16175550123")
    assert key != opt_out_key(b"s" * 32, "+18005550101", "+16175550123")


def test_a_range_is_bounded_and_tokens_stay_inside_it() -> None:
    range_ = parse_report_range("2026-02-27", "2026-03-02")
    assert range_.day_keys() == ["20260227", "20260228", "20260301", "20260302"]
    assert decode_cursor(encode_cursor(Cursor("20260301", "row-9")), range_) == Cursor("20260301", "row-9")
    assert decode_cursor(None, range_) == Cursor("20260227")
    with pytest.raises(InvalidRequestError):
        decode_cursor(encode_cursor(Cursor("20260303")), range_)
    with pytest.raises(InvalidRequestError):
        parse_report_range(f"{date(2026, 1, 1)}", f"{date(2026, 2, 1)}")


def test_csv_defuses_formulas_but_keeps_numbers() -> None:
    text = to_csv(["a", "b"], [{"a": "=HYPERLINK(1)", "b": "+18005550100"}])
    assert text.splitlines() == ["a,b", "'=HYPERLINK(1),+18005550100"]


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("+15555550123", "+15555550123"),
        ("15555550123", "+15555550123"),  # as ACS's documented events write `from`
        ("0015555550123", "+15555550123"),
        ("+1 (555) 555-0123", "+15555550123"),
        ("", None),
        ("+0123456789", None),
        ("12345", None),
        ("+1555555012345678", None),
        ("STOP", None),
    ],
)
def test_international_numbers_are_normalised_to_e164(written: str, expected: str | None) -> None:
    assert international_to_e164(written) == expected


def test_an_inbound_text_is_read_in_either_key_spelling_with_its_numbers_in_e164() -> None:
    camel = {"from": "15555550123", "to": "+18005550100", "message": "STOP", "receivedTimestamp": "2026-12-01T09:00Z"}
    pascal = {"From": "15555550123", "To": "18005550100", "Message": "STOP", "ReceivedTimestamp": "2026-12-01T09:00Z"}
    assert parse_inbound_sms(camel) == parse_inbound_sms(pascal)
    text = parse_inbound_sms(pascal)
    assert (text.from_number, text.to_number, text.keyword) == ("+15555550123", "+18005550100", Keyword.STOP)


@pytest.mark.parametrize("data", [{"from": "+15555550123"}, {"from": "hello", "to": "+18005550100"}, [], None])
def test_an_inbound_text_without_two_numbers_is_refused(data: object) -> None:
    with pytest.raises(InvalidMessageError):
        parse_inbound_sms(data)


def test_a_delivery_report_is_read_in_either_key_spelling() -> None:
    camel = {
        "messageId": "m-1",
        "deliveryStatus": "Delivered",
        "deliveryStatusDetails": "No error.",
        "receivedTimestamp": "2026-12-01T09:00:00Z",
        "tag": delivery_tag("US", "ep-1", "job-1"),
    }
    pascal = {key[0].upper() + key[1:]: value for key, value in camel.items()}
    assert parse_delivery_report(camel) == parse_delivery_report(pascal)
    assert parse_delivery_report(pascal).outcome is Delivery.DELIVERED
