"""Fixtures of the end-to-end tests that run the whole app in the local host."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import function_app
from localworld.epic import EpicStandIn
from shared.devhost.host import DevHost


@pytest.fixture
def app_host(epic: EpicStandIn) -> Iterator[DevHost]:
    """function_app in the local host (no timers), with Entra, Epic and Azurite behind it."""
    host = DevHost(function_app.app, port=0, timers=False)
    host.start()
    yield host
    host.stop()
