"""Request bodies as JSON objects, parsed safely: a size limit, a nesting-depth limit, and strict JSON.

The standard library's parser recurses once per nesting level, so `[[[[...` twenty thousand deep ends in
RecursionError; the depth is therefore measured first, by a linear scan that skips string contents.
Strict also means: no `NaN`/`Infinity` (not JSON, RFC 8259 section 6) and no member named twice (which of
two values a reader keeps differs between parsers). Errors say what is wrong, never echo the body.
"""

from __future__ import annotations

import json
import re
from typing import Any

from shared.errors import InvalidRequestError, PayloadTooLargeError

MAX_DEPTH = 16
"""Our documents nest three or four levels; anything near this is not one of them."""
_STRUCTURE = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
"""A whole string (skipped) or one bracket."""


def parse_json_object(body: bytes, *, max_bytes: int, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """The body as a JSON object. Raises PayloadTooLargeError (over `max_bytes`), InvalidRequestError
    (nested deeper than `max_depth`, not strict JSON, or not an object)."""
    if len(body) > max_bytes:
        raise PayloadTooLargeError(f"The request body exceeds {_size(max_bytes)}.")
    if _deeper_than(body, max_depth):
        raise InvalidRequestError(f"The request body nests deeper than {max_depth} levels.")
    try:
        document = json.loads(body, parse_constant=_refuse_constant, object_pairs_hook=_unique_members)
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequestError("The request body must be a JSON object.") from None
    if not isinstance(document, dict):
        raise InvalidRequestError("The request body must be a JSON object.")
    return document


def _deeper_than(body: bytes, max_depth: int) -> bool:
    depth = 0
    for match in _STRUCTURE.finditer(body):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > max_depth:
                return True
        elif token in (b"]", b"}"):
            depth -= 1
    return False


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        raise ValueError("a member is named twice")
    return document


def _size(limit: int) -> str:
    return f"{limit // 1024} KiB" if limit >= 1024 else f"{limit} bytes"
