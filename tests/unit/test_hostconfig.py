"""host.json holds the queue semantics on purpose; our code reads the same values."""

from __future__ import annotations

import json

import pytest

from shared.hostconfig import HOST_JSON, _timespan_seconds, get_host_config


def test_host_json_uses_the_v4_extension_bundle() -> None:
    document = json.loads(HOST_JSON.read_text())
    assert document["extensionBundle"] == {"id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "[4.*, 5.0.0)"}


def test_queue_semantics_are_read_from_host_json() -> None:
    queues = get_host_config().queues
    document = json.loads(HOST_JSON.read_text())["extensions"]["queues"]
    assert queues.message_encoding == document["messageEncoding"]
    assert queues.max_dequeue_count == document["maxDequeueCount"]
    assert queues.batch_size == document["batchSize"]
    assert queues.visibility_timeout_seconds == 30


@pytest.mark.parametrize(("text", "seconds"), [("00:00:30", 30), ("01:02:03", 3723), ("00:00:00.5", 0.5)])
def test_timespans(text: str, seconds: float) -> None:
    assert _timespan_seconds(text) == seconds


def test_bad_timespan_is_refused() -> None:
    with pytest.raises(ValueError, match="hh:mm:ss"):
        _timespan_seconds("30s")
