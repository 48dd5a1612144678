"""Azurite as the local host and the tests start it (issue 15.8): no telemetry, loopback only."""

from __future__ import annotations

from pathlib import Path

from shared.devhost.azurite import Azurite


def test_azurite_runs_without_telemetry_on_loopback_in_memory() -> None:
    args = Azurite.for_every_geo().command_line("azurite")
    assert "--disableTelemetry" in args
    hosts = [args[i + 1] for i, arg in enumerate(args) if arg.endswith("Host")]
    assert hosts == ["127.0.0.1"] * 3
    assert "--inMemoryPersistence" in args


def test_a_persistent_azurite_keeps_its_data_where_told(tmp_path: Path) -> None:
    args = Azurite([], location=tmp_path).command_line("azurite")
    assert args[-2:] == ["--location", str(tmp_path)]
    assert "--disableTelemetry" in args
