"""One sanitiser for values a caller sent (route values, headers, message fields) before they reach a log line.

A log line is a record operators trust: a CR/LF in a route value would forge a second line, and an ANSI
escape would rewrite a terminal. So every character that is not printable text is written as a visible
escape (`\\n`, `\\x1b`, `\\u2028`), and the value is capped so one request cannot flood the log.
"""

from __future__ import annotations

import unicodedata

MAX_LOGGED_CHARS = 80
"""Enough for an id or a route; anything longer is cut with a visible marker."""

_UNPRINTABLE = frozenset(("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))
"""Unicode categories written as escapes: controls, format (bidi overrides), surrogates, private, unassigned,
line and paragraph separators."""


def loggable(value: object, limit: int = MAX_LOGGED_CHARS) -> str:
    """`value` as text safe for one log line: unprintable characters escaped, at most `limit` characters kept."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    cut = len(text) > limit
    escaped = "".join(_escape(char) for char in text[:limit])
    return f"{escaped}...(+{len(text) - limit} chars)" if cut else escaped


def _escape(char: str) -> str:
    if char == "\\":
        return "\\\\"
    if unicodedata.category(char) not in _UNPRINTABLE:
        return char
    return char.encode("unicode_escape").decode("ascii")
