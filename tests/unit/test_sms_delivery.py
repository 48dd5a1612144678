"""Delivery tags, delivery outcomes, STOP/START keywords, the opt-out key, and report ranges and tokens."""

from __future__ import annotations

from datetime import date

import pytest

from shared.domain.reports import Cursor, decode_cursor, encode_cursor, parse_report_range, to_csv
from shared.domain.sms_delivery import (
    Delivery,
    Keyword,
    TagRef,
    classify_delivery,
    delivery_tag,
    keyword_of,
    opt_out_key,
    parse_delivery_tag,
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
