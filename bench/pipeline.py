"""HL7 pipeline: N signed SIU bookings through ingress -> hl7-inbound -> sms-outbound -> SMS outbox, on Azurite.

Runs the real app in the local host against an in-memory Azurite (control account plus one per geography)
with an approved endpoint seeded through the real ConfigStore, and prints:

* the limit: a bare `QueueClient.send_message` loop of N messages of the ingress's message size, into the
  same Azurite account, with one sender and with several;
* per run, ingress messages per second and client-side p50/p99 POST latency, its ratio to the bare loop
  with as many senders, and end-to-end messages per second (first POST until every SMS is in the outbox);
* storage transactions per message made by our code, by stage (ingress, hl7-inbound function,
  sms-outbound function) and per account, table or queue, method and status; the local host's own queue
  calls (receive, delete, polls: the Functions host's in Azure) are counted apart.

Goals: ingress at least 0.5x the bare enqueue rate; at most 6 storage transactions per message end to end.
A benchmark prints figures; it never asserts times.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as `python bench/pipeline.py`: the app and tests/ import from the root

import requests  # noqa: E402
from azure.storage.queue import QueueClient  # noqa: E402

import function_app  # noqa: E402
from shared import bootstrap  # noqa: E402
from shared.adapters.metering import Call, StorageMeter  # noqa: E402
from shared.adapters.storage import encode_queue_message  # noqa: E402
from shared.devhost.azurite import Azurite, geo_account  # noqa: E402
from shared.devhost.host import DevHost  # noqa: E402
from shared.domain.hl7_message import unframe  # noqa: E402
from tests.hl7_support import Sender, seed_sender, siu  # noqa: E402

GEO = "EU"
DEFAULT_MESSAGES = 300
DEFAULT_SENDERS = 4
DRAIN_TIMEOUT_SECONDS = 600.0
QUIET_SECONDS = 1.0
"""The app's storage calls must stay unchanged this long after the last SMS before we count them."""

INGRESS = "ingress (POST /api/hl7)"
HL7_FUNCTION = "hl7-inbound function"
SMS_FUNCTION = "sms-outbound function"
SETUP = "setup"

T = TypeVar("T")


def stage_of_current_thread() -> str:
    """The pipeline stage making a storage call, told by the local host's thread names.

    Queue pumps run in `devhost-queue-<function name>` threads; HTTP requests in the server's own threads.
    """
    thread = threading.current_thread()
    if thread is threading.main_thread():
        return SETUP
    if "process_hl7_message" in thread.name:
        return HL7_FUNCTION
    if "send_sms_job" in thread.name:
        return SMS_FUNCTION
    return INGRESS


@dataclass(frozen=True)
class Post:
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class IngressRun:
    messages: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    def percentile(self, p: int) -> float:
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1]


def signed_bookings(sender: Sender, count: int, run: str) -> list[Post]:
    """`count` new bookings (one appointment each, so one confirmation SMS each), signed ahead of the clock."""
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    bodies = [siu("S12", appointment_id=f"{run}-{i}", control_id=f"{run}-{i}", start=start) for i in range(count)]
    return [Post(body, {**sender.headers(body), "Content-Type": "application/hl7-v2"}) for body in bodies]


def post_all(url: str, posts: list[Post], senders: int) -> IngressRun:
    """POST every message with `senders` concurrent clients (a requests.Session each); time each POST."""
    local = threading.local()
    latencies: list[float] = []
    lock = threading.Lock()

    def post(item: Post) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        started = time.perf_counter()
        response = session.post(url, data=item.body, headers=item.headers, timeout=60)
        elapsed = time.perf_counter() - started
        if response.status_code != 200 or "MSA|AA" not in response.text:
            raise SystemExit(f"ingress refused a message: HTTP {response.status_code}")
        with lock:
            latencies.append(elapsed)

    started = time.perf_counter()
    run_concurrently(post, posts, senders)
    return IngressRun(len(posts), time.perf_counter() - started, latencies)


def run_concurrently(work: Callable[[T], None], items: Iterable[T], workers: int) -> None:
    """Run `work` on every item, `workers` at a time (in this thread when 1); re-raises the first failure."""
    if workers == 1:
        for item in items:
            work(item)
        return
    with ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(work, item) for item in items]:
            future.result()


def bare_enqueue_rate(connection_string: str, message: str, count: int, senders: int) -> float:
    """Messages per second of plain `send_message` calls (a client per sender), the ingress's lower bound."""
    local = threading.local()
    queue_name = f"bench-bare-{senders}"
    QueueClient.from_connection_string(connection_string, queue_name).create_queue()

    def send(_: int) -> None:
        client = getattr(local, "client", None) or QueueClient.from_connection_string(connection_string, queue_name)
        local.client = client
        client.send_message(message)

    started = time.perf_counter()
    run_concurrently(send, range(count), senders)
    return count / (time.perf_counter() - started)


def sms_in_outbox(outbox: Path) -> int:
    if not outbox.exists():
        return 0
    with outbox.open("rb") as lines:
        return sum(1 for _ in lines)


def wait_for_outbox(outbox: Path, expected: int) -> float:
    """Wait until `expected` SMS are in the outbox; returns when that was (perf_counter)."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
    while sms_in_outbox(outbox) < expected:
        if time.monotonic() > deadline:
            raise SystemExit(f"the pipeline did not drain: {sms_in_outbox(outbox)} of {expected} SMS sent")
        time.sleep(0.02)
    return time.perf_counter()


def wait_until_quiet(meter: StorageMeter) -> None:
    """Wait until the meter has seen no call for QUIET_SECONDS: the last SMS job is recorded as sent."""
    seen = -1
    while seen != meter.transactions:
        seen = meter.transactions
        time.sleep(QUIET_SECONDS)


def print_breakdown(calls: Counter[Call], messages: int) -> None:
    by_stage: Counter[str] = Counter()
    for call, count in calls.items():
        by_stage[call.scope] += count
    for stage in (INGRESS, HL7_FUNCTION, SMS_FUNCTION):
        print(f"    {stage:<28} {by_stage[stage] / messages:6.2f}")
    print("  by call (`Tables`, queue PUT and single calls are first uses per process: create if missing):")
    print(f"    {'stage':<28} {'account':<8} {'table/queue':<14} {'method':<7} {'status':<6} {'calls':>6} {'/msg':>6}")
    for call, count in sorted(calls.items()):
        print(
            f"    {call.scope:<28} {call.account:<8} {call.resource:<14} {call.method:<7} {call.status:<6}"
            f" {count:6d} {count / messages:6.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=DEFAULT_MESSAGES, help="messages per run")
    parser.add_argument("--senders", type=int, default=DEFAULT_SENDERS, help="concurrent senders in the last run")
    args = parser.parse_args()
    n, senders = args.messages, args.senders

    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as scratch:
        azurite = Azurite.for_every_geo(log_path=Path(scratch) / "azurite.log")
        azurite.start()
        try:
            run(azurite, Path(scratch) / "sms.jsonl", n, senders)
        finally:
            azurite.stop()


def run(azurite: Azurite, outbox: Path, n: int, senders: int) -> None:
    os.environ.update(
        {
            **azurite.storage_settings("http://127.0.0.1:7071"),
            "SMS_PROVIDER": "outbox",
            "SMS_OUTBOX_PATH": str(outbox),
            "OPT_OUT_HASH_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        }
    )
    meter, host_meter = StorageMeter(scope=stage_of_current_thread), StorageMeter(scope=stage_of_current_thread)
    bootstrap.use_storage_meter(meter)
    sender = seed_sender(GEO)
    host = DevHost(function_app.app, port=0, timers=False, meter=host_meter)
    url = f"{host.base_url}/api/hl7/{sender.endpoint.id}"

    sample = signed_bookings(sender, 1, "size")[0].body
    payload = {"v": 1, "endpoint": sender.endpoint.id, "received": datetime.now(UTC).isoformat()}
    message = encode_queue_message({**payload, "body": unframe(sample)})
    print(f"HL7 pipeline on Azurite: {n} messages per run, {len(sample)}-byte SIU, {len(message)}-byte queue message")
    connection = azurite.connection_string(geo_account(GEO))
    bare = {k: bare_enqueue_rate(connection, message, n, k) for k in (1, senders)}
    for k, rate in bare.items():
        print(f"bare QueueClient.send_message, {k} sender(s): {rate:8.1f} msg/s   (the limit)")

    print(f"\n{'run':<44} {'ingress msg/s':>13} {'p50 ms':>7} {'p99 ms':>7} {'x bare':>7} {'end-to-end msg/s':>17}")

    def report(name: str, ingress: IngressRun, k: int, end_to_end: float | None) -> None:
        e2e = f"{end_to_end:17.1f}" if end_to_end else f"{'-':>17}"
        print(
            f"{name:<44} {ingress.rate:13.1f} {ingress.percentile(50) * 1000:7.1f} "
            f"{ingress.percentile(99) * 1000:7.1f} {ingress.rate / bare[k]:7.2f} {e2e}",
            flush=True,
        )

    meter.reset()
    host_meter.reset()
    host.http.start()  # queue functions stopped: the ingress alone
    posts = signed_bookings(sender, n, "alone")
    alone = post_all(url, posts, 1)
    report("ingress alone (queue functions stopped), 1", alone, 1, None)
    started = time.perf_counter()
    for worker in [*host.pumps, *host.timers]:
        worker.start()
    drained = wait_for_outbox(outbox, n)
    print(f"{'  then the queue functions drain the backlog':<44} {'':>37} {n / (drained - started):17.1f}")

    for tag, k in (("one", 1), ("many", senders)):
        name = f"pipeline running, {k} sender{'s' if k > 1 else ''}"
        posts = signed_bookings(sender, n, tag)
        expected = sms_in_outbox(outbox) + n
        started = time.perf_counter()
        ingress = post_all(url, posts, k)
        report(name, ingress, k, n / (wait_for_outbox(outbox, expected) - started))

    wait_until_quiet(meter)
    host.stop()
    total = 3 * n
    print(f"\nstorage transactions per message by our code, all {total} messages: {meter.transactions / total:.2f}")
    print("  (goal: <= 6)  by stage:")
    print_breakdown(meter.calls, total)
    print(
        f"\nlocal host's queue calls (receive, delete, empty polls; the Functions host's in Azure, billed to the"
        f" same account): {host_meter.transactions / total:.2f} per message"
    )


if __name__ == "__main__":
    main()
