"""Values a caller chooses (route values, query, headers, body) never reach a log line raw (issue 15.2).

Every route of the app's table gets CR/LF, an ANSI escape and a Unicode line separator in every place a
caller controls, with and without an admin token; no captured log record may then hold a control character,
so no line can be forged and no terminal rewritten.
"""

from __future__ import annotations

import logging
import unicodedata

import pytest
import requests

from localworld.entra import EntraStandIn
from shared.devhost.host import DevHost
from shared.log_safety import loggable
from tests.routes import app_routes

FORGED_LINE = "x\r\n2026-12-01 00:00:00,000 ERROR shared.security: FORGED \x1b[2J\x1b[31m\u2028"
HEADER_VALUE = "x \x1b[2J\x1b[31m FORGED"  # CR/LF cannot travel in a header; an ANSI escape can
HL7_BODY = b"MSH|^~\\&|A|B|C|D|20261201||SIU^S12|x\n2026 ERROR FORGED\x1b[31m|P|2.5\r"


def _unprintable(text: str) -> list[str]:
    return [char for char in text if unicodedata.category(char) in ("Cc", "Zl", "Zp") and char != "\t"]


def test_loggable_escapes_control_characters_and_caps_length() -> None:
    assert loggable("a\r\nb\x1b[31m\u2028\\") == "a\\r\\nb\\x1b[31m\\u2028\\\\"
    assert loggable("é-ok") == "é-ok"
    assert loggable("x" * 500, limit=10) == "x" * 10 + "...(+490 chars)"
    assert loggable(b"\xff\n") == "\ufffd\\n"


def test_no_route_lets_a_caller_write_a_raw_log_line(
    app_host: DevHost, entra: EntraStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    calls = app_routes()
    for authorization in (None, f"Bearer {entra.admin_token()}", f"Bearer {HEADER_VALUE}"):
        for call in calls:
            headers = {"X-Context-Token": HEADER_VALUE, "User-Agent": HEADER_VALUE, "X-Forwarded-For": HEADER_VALUE}
            if authorization:
                headers["Authorization"] = authorization
            body = HL7_BODY if call.function == "receive_hl7_message" else FORGED_LINE.encode()
            requests.request(
                call.method,
                f"{app_host.base_url}{call.path(FORGED_LINE)}",
                params={"limit": FORGED_LINE, "ctx": FORGED_LINE, "validationToken": FORGED_LINE},
                headers=headers,
                data=body if call.method in ("POST", "PUT", "PATCH") else None,
                allow_redirects=False,  # a redirect's target is not this route (nor, often, this host)
                timeout=30,
            )
    assert len(calls) > 30  # the whole table, not a few routes
    forged = [(r.name, r.getMessage()) for r in caplog.records if _unprintable(r.getMessage())]
    assert forged == []
    assert any("FORGED" in r.getMessage() for r in caplog.records)  # the values were logged, escaped
