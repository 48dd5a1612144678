"""The local host over real HTTP and real Azurite queues: routes, queue retries and poison, timers."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from azure.storage.queue import QueueClient

from shared.adapters.storage import StorageAccount
from shared.devhost.azurite import free_port
from shared.devhost.host import DevHost
from shared.hostconfig import get_host_config
from tests.e2e import sample_app

ROOT = Path(__file__).resolve().parents[2]


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


@pytest.fixture
def sample_host(app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[DevHost, str]]:
    queue_name = f"sample-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("SAMPLE_QUEUE", queue_name)
    monkeypatch.setenv("SAMPLE_SCHEDULE", "* * * * * *")  # every second
    # host.json's semantics, but with retries made visible at once so the test need not wait 30 s each.
    semantics = dataclasses.replace(
        get_host_config().queues, visibility_timeout_seconds=0, max_polling_interval_seconds=0.2
    )
    for recorded in (sample_app.received, sample_app.attempts, sample_app.ticks):
        recorded.clear()
    host = DevHost(sample_app.app, port=0, queue_semantics=semantics)
    host.start()
    yield host, queue_name
    host.stop()


def test_http_triggers_get_route_query_headers_and_body(sample_host: tuple[DevHost, str]) -> None:
    host, _ = sample_host
    response = requests.post(f"{host.base_url}/api/echo/hello?q=1", data="payload", headers={"X-Probe": "p"}, timeout=5)
    assert response.json() == {"word": "hello", "q": "1", "body": "payload"}
    assert response.headers["X-Seen"] == "p"
    assert requests.get(f"{host.base_url}/api/echo/hello", timeout=5).status_code == 404  # method not routed
    assert requests.get(f"{host.base_url}/elsewhere", timeout=5).status_code == 404  # outside /api


def test_a_good_message_is_processed_once_and_deleted(sample_host: tuple[DevHost, str], app_env) -> None:
    _, queue_name = sample_host
    queue = QueueClient.from_connection_string(app_env["GEO_EU_STORAGE"], queue_name)
    queue.send_message(json.dumps({"n": 1}))
    wait_for(lambda: sample_app.received == [{"n": 1}])
    time.sleep(0.5)
    assert sample_app.received == [{"n": 1}]
    assert queue.get_queue_properties().approximate_message_count == 0


def test_an_undecodable_message_goes_to_poison_after_the_dequeue_limit(
    sample_host: tuple[DevHost, str], app_env
) -> None:
    _, queue_name = sample_host
    limit = get_host_config().queues.max_dequeue_count
    QueueClient.from_connection_string(app_env["GEO_EU_STORAGE"], queue_name).send_message("not json {")
    poison = QueueClient.from_connection_string(app_env["GEO_EU_STORAGE"], f"{queue_name}-poison")

    wait_for(lambda: poison.get_queue_properties().approximate_message_count == 1)
    assert sample_app.attempts == list(range(1, limit + 1))
    assert poison.receive_message().content == "not json {"  # kept as it came, not lost


def test_timers_fire_on_their_ncrontab_schedule(sample_host: tuple[DevHost, str]) -> None:
    wait_for(lambda: len(sample_app.ticks) >= 2, timeout=5)


def run_devhost(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "shared.devhost", "--settings", "/nonexistent.json", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_the_cli_refuses_to_start_without_a_setting_and_names_it(storage_env: dict[str, str]) -> None:
    env = {k: v for k, v in {**os.environ, **storage_env}.items() if k != "GEOS"}
    process = run_devhost(env)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "GEOS" in output


def test_the_cli_serves_the_real_app_and_says_what_it_serves(storage_env: dict[str, str]) -> None:
    port = free_port()
    process = run_devhost({**os.environ, **storage_env}, "--port", str(port))
    try:
        lines = []
        while not any("[get_health]" in line for line in lines):
            line = process.stdout.readline()
            assert line, "devhost exited: " + "".join(lines)
            lines.append(line)
        health = requests.get(f"http://127.0.0.1:{port}/api/health", timeout=10)
        assert health.status_code == 200
        assert health.json()["storage"]["geos"] == {"US": "ok", "EU": "ok", "APAC": "ok"}
        unknown = requests.get(f"http://127.0.0.1:{port}/api/no/such/route", timeout=10)
        assert unknown.status_code == 404
        assert unknown.headers["Content-Type"].startswith("application/problem+json")
    finally:
        process.terminate()
        process.wait(timeout=10)


def free_run_of_ports(count: int) -> int:
    """The first of `count` consecutive ports that are free now."""
    for _ in range(50):
        first = free_port()
        if first + count < 65536 and all(_free(first + offset) for offset in range(1, count)):
            return first
    raise AssertionError(f"no {count} consecutive free ports")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_the_cli_with_the_local_world_seeds_once_and_prints_each_service(
    storage_env: dict[str, str], spare_account: StorageAccount, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        **storage_env,
        # A control account of its own: other tests seed the demo organisation into the session's.
        "CONTROL_STORAGE": spare_account.connection.connection_string,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "SMS_OUTBOX_PATH": str(tmp_path / "sms.jsonl"),
        "EPIC_PRIVATE_KEY": str(tmp_path / "devkeys" / "epic-private-key.pem"),
        "CONTEXT_TOKEN_SECRET": base64.b64encode(os.urandom(32)).decode(),
        "TIMER_SCHEDULE": "0 0 0 1 1 *",
    }
    first_world_port = free_run_of_ports(5)
    outputs = []
    for _ in range(2):  # the same ports, as make run's: the second run finds the endpoint by its URL
        process = run_devhost(env, "--port", str(port), "--world", "--world-port", str(first_world_port))
        try:
            lines: list[str] = []
            while not lines or not lines[-1].startswith(("Ready in", "Cannot start")):
                line = process.stdout.readline()
                assert line, "devhost exited: " + "".join(lines)
                lines.append(line)
            outputs.append("".join(lines))
        finally:
            process.terminate()
            process.wait(timeout=10)

    first, second = outputs
    assert "Created the demo organisation" in first
    assert "Found the demo organisation" in second
    for service in ("epic ", "mychart ", "phone ", "sign-in ", "fhir "):
        assert f"\n  {service}" in second
    assert (tmp_path / "devkeys" / "epic-sender-key.pem").exists()
