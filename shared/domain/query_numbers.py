"""Whole numbers in query strings: ASCII digits only.

`str.isdigit` is true for `²` or `٣`, which `int` then refuses or reads as another number; a query
number here is `[0-9]+`, nothing else, bounded before it is converted.
"""

from __future__ import annotations

from shared.errors import InvalidRequestError

MAX_DIGITS = 12


def parse_query_number(text: str | None, name: str, *, minimum: int, maximum: int, default: int) -> int:
    """`text` as a whole number from `minimum` to `maximum`, `default` when absent or empty.

    Raises InvalidRequestError naming the parameter (never echoing its value).
    """
    if text is None or text == "":
        return default
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_DIGITS or not minimum <= int(text) <= maximum:
        raise InvalidRequestError(f"Query parameter {name} must be a whole number from {minimum} to {maximum}.")
    return int(text)
