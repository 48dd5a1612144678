"""Pure launch logic: context tokens, visit keys, join tokens, device-test verdicts, person-facing pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain import context_token
from shared.domain.device_test import parse_device_test_result
from shared.domain.join_tokens import JoinTarget, JoinWindow, new_token, token_geo, token_hash
from shared.domain.meetings import VisitKey
from shared.errors import (
    ConnectorError,
    InvalidRequestError,
    MeetingsNotPermittedError,
    NotAuthorisedError,
    SettingsError,
)
from shared.settings import load_settings
from shared.triggers.pages import error_page, message_page
from tests.unit.test_settings import valid_env

SECRET = b"k" * 32
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def test_context_tokens_verify_only_for_their_purpose_key_and_lifetime() -> None:
    token = context_token.sign("ep-1", "devicetest", SECRET, expires_at=NOW + timedelta(minutes=5))
    assert context_token.verify(token, "devicetest", SECRET, NOW) == "ep-1"
    for purpose, secret, now in (
        ("launch", SECRET, NOW),
        ("devicetest", b"j" * 32, NOW),
        ("devicetest", SECRET, NOW + timedelta(minutes=5)),
    ):
        with pytest.raises(NotAuthorisedError):
            context_token.verify(token, purpose, secret, now)


@pytest.mark.parametrize("token", ["", ".", "a.b", "é.x", "eyJlIjoxfQ.AAAA"])
def test_malformed_context_tokens_are_not_authorised(token: str) -> None:
    with pytest.raises(NotAuthorisedError):
        context_token.verify(token, "devicetest", SECRET, NOW)


def test_a_tampered_context_token_is_refused() -> None:
    _, signature = context_token.sign("ep-1", "devicetest", SECRET).split(".")
    forged = context_token.sign("ep-2", "devicetest", b"x" * 32).split(".")[0]
    with pytest.raises(NotAuthorisedError):
        context_token.verify(f"{forged}.{signature}", "devicetest", SECRET, NOW)


def test_the_external_id_is_stable_opaque_and_per_visit() -> None:
    key = VisitKey("ep-1", "csn-123")
    assert key.external_id == VisitKey("ep-1", "csn-123").external_id
    assert key.external_id != VisitKey("ep-1", "csn-124").external_id
    assert "csn" not in key.external_id
    assert len(key.external_id) == 64


def test_join_tokens_name_their_geography_and_are_stored_hashed() -> None:
    token = new_token("EU")
    assert token_geo(token) == "EU"
    assert len(token) > 40
    assert token not in token_hash(token)
    assert token_geo("noprefix") == ""


def test_a_visit_is_joinable_until_an_hour_after_its_end_unless_cancelled() -> None:
    """(The opening before the start: tests/unit/test_join_window.py.)"""
    target = JoinTarget("ep", "EU", "v", NOW, NOW + timedelta(minutes=30), "booked")
    opens = timedelta(days=1)
    assert target.window(NOW - timedelta(days=1), opens) is JoinWindow.OPEN
    assert target.window(NOW + timedelta(minutes=89), opens) is JoinWindow.OPEN
    assert target.window(NOW + timedelta(minutes=91), opens) is JoinWindow.OVER
    assert JoinTarget("ep", "EU", "v", NOW, NOW + timedelta(minutes=30), "cancelled").window(NOW, opens) is None


def test_device_test_verdict_needs_every_part() -> None:
    good = {"camera": "ok", "microphone": "ok", "speaker": "ok", "round_trip_ms": 50}
    good |= {"download_kbps": 4000, "upload_kbps": 4000}
    assert parse_device_test_result(good).passed
    assert not parse_device_test_result({**good, "upload_kbps": 200}).passed
    assert not parse_device_test_result({**good, "speaker": "not_heard"}).passed
    for bad in ([], {**good, "round_trip_ms": True}, {**good, "camera": None}):
        with pytest.raises(InvalidRequestError):
            parse_device_test_result(bad)


def test_pages_escape_text_and_never_show_internals() -> None:
    page = message_page(400, "<b>x</b>", ["<script>alert(1)</script>"]).get_body().decode()
    assert "<script>alert" not in page
    assert "&lt;script&gt;" in page
    body = error_page(ConnectorError("Traceback: secret detail"), "abc123").get_body().decode()
    assert "secret detail" not in body
    assert "abc123" in body


def test_the_access_policy_page_names_the_app_to_grant() -> None:
    page = error_page(MeetingsNotPermittedError("403", app_id="app-42"), "ref1")
    assert page.status_code == 502
    assert "app id app-42" in page.get_body().decode()


def test_graph_and_context_token_settings_are_validated() -> None:
    settings = load_settings(valid_env(MEETING_PROVIDER="graph"))
    assert settings.graph.uses_identity
    assert settings.graph.base_url == "https://graph.microsoft.com/v1.0"
    for changes, named in (
        ({"MEETING_PROVIDER": "zoom"}, "MEETING_PROVIDER"),
        ({"MEETING_PROVIDER": "graph", "GRAPH_BASE_URL": "http://graph.example"}, "GRAPH_BASE_URL"),
        ({"MEETING_PROVIDER": "graph", "GRAPH_CLIENT_SECRET": "s"}, "GRAPH_TENANT_ID"),
        ({"CONTEXT_TOKEN_SECRET": "c2hvcnQ="}, "CONTEXT_TOKEN_SECRET"),
        ({"CONTEXT_TOKEN_SECRET": "not base64!"}, "CONTEXT_TOKEN_SECRET"),
    ):
        with pytest.raises(SettingsError, match=named) as raised:
            load_settings(valid_env(**changes))
        assert "c2hvcnQ=" not in str(raised.value)
