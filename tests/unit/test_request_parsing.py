"""The pure parsers behind request bodies and query numbers: limits, strictness, and what they refuse."""

from __future__ import annotations

import pytest

from shared.domain.json_body import parse_json_object
from shared.domain.query_numbers import parse_query_number
from shared.errors import InvalidRequestError, PayloadTooLargeError


def test_depth_is_counted_outside_strings_only() -> None:
    at_limit = b'{"a":' * 15 + b"[1]" + b"}" * 15
    assert parse_json_object(at_limit, max_bytes=1024)
    with pytest.raises(InvalidRequestError, match="deeper than 16"):
        parse_json_object(b'{"a":' * 16 + b"[1]" + b"}" * 16, max_bytes=1024)
    quoted = b'{"a": "' + b"[{" * 100 + b'\\" [[[["}'
    assert parse_json_object(quoted, max_bytes=1024) == {"a": "[{" * 100 + '" [[[['}


def test_twenty_thousand_brackets_are_refused_without_recursion() -> None:
    with pytest.raises(InvalidRequestError, match="deeper"):
        parse_json_object(b'{"name":' + b"[" * 20000 + b"]" * 20000 + b"}", max_bytes=64 * 1024)


def test_size_is_checked_first_and_is_a_413() -> None:
    with pytest.raises(PayloadTooLargeError, match="exceeds 1 KiB"):
        parse_json_object(b"{" * 1025, max_bytes=1024)


@pytest.mark.parametrize("body", [b'{"a": NaN}', b'{"a": -Infinity}', b'{"a": 1, "a": 2}', b"[]", b"", b"\xff"])
def test_not_strict_json_objects_are_refused(body: bytes) -> None:
    with pytest.raises(InvalidRequestError, match="must be a JSON object"):
        parse_json_object(body, max_bytes=1024)


@pytest.mark.parametrize(("text", "value"), [(None, 5), ("", 5), ("0", 0), ("007", 7), ("1000", 1000)])
def test_query_numbers_in_ascii_digits(text: str | None, value: int) -> None:
    assert parse_query_number(text, "limit", minimum=0, maximum=1000, default=5) == value


@pytest.mark.parametrize("text", ["\u00b2", "\u0663", "\uff11", "1001", "-1", "1.0", " 1", "1_0", "9" * 13])
def test_anything_else_is_refused_without_echoing_it(text: str) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        parse_query_number(text, "limit", minimum=0, maximum=1000, default=5)
    assert refused.value.message == "Query parameter limit must be a whole number from 0 to 1000."
