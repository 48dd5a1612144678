"""When a join link opens the meeting: from the endpoint's opening time before the start to the end plus grace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.join_tokens import JOIN_GRACE_AFTER_END, JoinTarget, JoinWindow, ended_link_key, token_hash

START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
END = START + timedelta(minutes=20)
OPENS = timedelta(minutes=30)


def target(status: str = "booked") -> JoinTarget:
    return JoinTarget("ep", "EU", "CSN1", START, END, status)


@pytest.mark.parametrize(
    ("now", "window"),
    [
        (START - OPENS - timedelta(seconds=1), JoinWindow.EARLY),
        (START - OPENS, JoinWindow.OPEN),
        (START, JoinWindow.OPEN),
        (END + JOIN_GRACE_AFTER_END - timedelta(seconds=1), JoinWindow.OPEN),
        (END + JOIN_GRACE_AFTER_END, JoinWindow.OVER),
    ],
)
def test_the_windows_edges(now: datetime, window: JoinWindow) -> None:
    assert target().window(now, OPENS) is window


@pytest.mark.parametrize("status", ["cancelled", "no_show", "deleted", "discontinued"])
def test_a_visit_that_is_not_booked_has_no_window(status: str) -> None:
    assert target(status).window(START, OPENS) is None


def test_an_opening_time_of_zero_opens_at_the_start() -> None:
    assert target().window(START - timedelta(seconds=1), timedelta(0)) is JoinWindow.EARLY
    assert target().window(START, timedelta(0)) is JoinWindow.OPEN


def test_the_ended_links_key_is_not_the_tokens_stored_hash() -> None:
    assert ended_link_key("eu-abc") != token_hash("eu-abc")
    assert len(ended_link_key("eu-abc")) == 64
