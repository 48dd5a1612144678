"""HL7 pipeline: signed SIU bookings through ingress -> hl7-inbound -> sms-outbound -> SMS outbox, on Azurite.

Runs the real app in the local host against an in-memory Azurite (control account plus one per geography)
with an approved endpoint seeded through the real ConfigStore, and prints:

* the ingress against its limit, a bare `QueueClient.send_message` loop of messages of the ingress's size
  into the same Azurite account: both warmed first (a run of each, not counted), then alternated over
  several rounds (which goes first alternates too), with one sender and with several; per round and as
  medians: messages per second, the ratio, and the pooled client-side p50/p99 POST latency;
* with the queue functions running: ingress messages per second and end-to-end messages per second (first
  POST until every SMS is in the outbox);
* storage transactions per message made by our code, by stage (ingress, hl7-inbound function,
  sms-outbound function) and per account, table or queue, method and status; the local host's own queue
  calls (receive, delete, polls: the Functions host's in Azure) are counted apart;
* the load average before and after: the cores are shared, and figures of one run compare only with each other.

Goals (issue 19): ingress at least 0.6x the warm bare enqueue rate in one run; at most 6 storage
transactions per message end to end. A benchmark prints figures; it never asserts times.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
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
from azure.core.exceptions import ResourceExistsError  # noqa: E402
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
DEFAULT_MESSAGES = 200
DEFAULT_ROUNDS = 5
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
    with contextlib.suppress(ResourceExistsError):
        QueueClient.from_connection_string(connection_string, queue_name).create_queue()

    def send(_: int) -> None:
        client = getattr(local, "client", None) or QueueClient.from_connection_string(connection_string, queue_name)
        local.client = client
        client.send_message(message)

    started = time.perf_counter()
    run_concurrently(send, range(count), senders)
    rate = count / (time.perf_counter() - started)
    QueueClient.from_connection_string(connection_string, queue_name).clear_messages()  # Azurite holds only ours
    return rate


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


@dataclass
class Rounds:
    """The alternated runs of one configuration: the bare loop's rates and the ingress's runs, round by round."""

    senders: int
    bare: list[float]
    ingress: list[IngressRun]

    @property
    def bare_median(self) -> float:
        return statistics.median(self.bare)

    @property
    def ingress_median(self) -> float:
        return statistics.median(run.rate for run in self.ingress)

    @property
    def ratios(self) -> list[float]:
        return [run.rate / bare for run, bare in zip(self.ingress, self.bare, strict=True)]

    def latency(self, p: int) -> float:
        """The p-th percentile of every POST of every round, in ms."""
        pooled = IngressRun(0, 1.0, [latency for run in self.ingress for latency in run.latencies])
        return pooled.percentile(p) * 1000


WHY: dict[tuple[str, str, str], str] = {
    (INGRESS, "hl7-inbound", "POST"): "the enqueue: AA means stored",
    (INGRESS, "$batch", "POST"): "replay guard, tokens without body_sha256 only",
    (HL7_FUNCTION, "appointments", "POST"): "the appointment state (create; read + replace if it exists)",
    (HL7_FUNCTION, "appointments", "GET"): "the appointment state (create; read + replace if it exists)",
    (HL7_FUNCTION, "appointments", "PUT"): "the appointment state (create; read + replace if it exists)",
    (HL7_FUNCTION, "jointokens", "PUT"): "the join link's row (own partition: the join page reads it by token)",
    (HL7_FUNCTION, "schedule", "PUT"): "the first reminder/purge entry (partition: its due hour and shard)",
    (HL7_FUNCTION, "sms-outbound", "POST"): "the SMS job's message: ACS throttling stays off the HL7 path",
    (SMS_FUNCTION, "smsjobs", "POST"): "the claim before the first try (exactly once: repeatability pair)",
    (SMS_FUNCTION, "smsoptouts", "GET"): "STOP checked at sending time (the patient may text STOP any moment)",
    (SMS_FUNCTION, "smsjobs", "PUT"): "the outcome (sent/failed) and ACS message id",
    (SMS_FUNCTION, "smsreport", "PUT"): "the report index row (partition: endpoint and day, another table)",
}


def print_what_each_costs(calls: Counter[Call], messages: int) -> None:
    """What stops the goal of 6, if it is missed: each per-message call and why it is there."""
    per_message: Counter[tuple[str, str, str]] = Counter()
    for call, count in calls.items():
        per_message[(call.scope, call.resource, call.method)] += count
    kept = {key: count / messages for key, count in per_message.items() if count / messages >= 0.5}
    total = sum(kept.values())
    verdict = "over the goal of 6" if total > 6 else "within the goal of 6"
    print(f"\nper-message calls ({total:.2f} in all, {verdict}), and why each is there:")
    for (stage, resource, method), count in sorted(kept.items()):
        reason = WHY.get((stage, resource, method), "(not explained: new?)")
        print(f"    {stage:<28} {resource:<14} {method:<6} {count:5.2f}  {reason}")
    if total > 6:
        print(
            "  What stops <= 6: no two of these share a table and partition, and an entity-group transaction"
            " needs both, so none folds into another; dropping one would drop what its reason says."
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=DEFAULT_MESSAGES, help="messages per run")
    parser.add_argument("--senders", type=int, default=DEFAULT_SENDERS, help="concurrent senders of the second set")
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="alternated rounds per set")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as scratch:
        azurite = Azurite.for_every_geo(log_path=Path(scratch) / "azurite.log")
        azurite.start()
        try:
            run(azurite, Path(scratch) / "sms.jsonl", args.messages, args.senders, args.rounds)
        finally:
            azurite.stop()


def run(azurite: Azurite, outbox: Path, n: int, senders: int, rounds: int) -> None:
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
    connection = azurite.connection_string(geo_account(GEO))
    print(f"HL7 pipeline on Azurite: {n} messages per run, {len(sample)}-byte SIU, {len(message)}-byte queue message")
    print(f"load average before: {load()}")

    host.http.start()  # queue functions stopped: the ingress alone
    bare_enqueue_rate(connection, message, n, senders)  # warm-up, not counted: Azurite, the SDK, sockets
    post_all(url, signed_bookings(sender, n, "warm"), senders)  # warm-up: first uses, caches, the host's threads
    sets = [Rounds(k, [], []) for k in (1, senders)]
    for number in range(rounds):
        for rounds_of in sets:
            posts = signed_bookings(sender, n, f"r{number}k{rounds_of.senders}")
            # Alternate which goes first, so neither always meets the other's leftovers (GC, Azurite's queue growth).
            if number % 2 == 0:
                rounds_of.bare.append(bare_enqueue_rate(connection, message, n, rounds_of.senders))
                rounds_of.ingress.append(post_all(url, posts, rounds_of.senders))
            else:
                rounds_of.ingress.append(post_all(url, posts, rounds_of.senders))
                rounds_of.bare.append(bare_enqueue_rate(connection, message, n, rounds_of.senders))
    print_rounds(sets)

    started = time.perf_counter()
    backlog = sms_in_outbox(outbox) + n * (1 + 2 * rounds)
    for worker in [*host.pumps, *host.timers]:
        worker.start()
    drained = wait_for_outbox(outbox, backlog)
    print(f"\nthe queue functions drain the backlog of {backlog} messages: {backlog / (drained - started):.1f} msg/s")
    print(f"{'pipeline running':<22} {'ingress msg/s':>13} {'p50 ms':>7} {'p99 ms':>7} {'end-to-end msg/s':>17}")
    for k in (1, senders):
        posts = signed_bookings(sender, n, f"running{k}")
        expected = sms_in_outbox(outbox) + n
        started = time.perf_counter()
        ingress = post_all(url, posts, k)
        end_to_end = n / (wait_for_outbox(outbox, expected) - started)
        print(
            f"{f'{k} sender(s)':<22} {ingress.rate:13.1f} {ingress.percentile(50) * 1000:7.1f}"
            f" {ingress.percentile(99) * 1000:7.1f} {end_to_end:17.1f}",
            flush=True,
        )

    wait_until_quiet(meter)
    host.stop()
    total = n * (3 + 2 * rounds)
    print(f"\nstorage transactions per message by our code, all {total} messages: {meter.transactions / total:.2f}")
    print("  (goal: <= 6)  by stage:")
    print_breakdown(meter.calls, total)
    print_what_each_costs(meter.calls, total)
    print(
        f"\nlocal host's queue calls (receive, delete, empty polls; the Functions host's in Azure, billed to the"
        f" same account): {host_meter.transactions / total:.2f} per message"
    )
    print(f"load average after: {load()}")


def print_rounds(sets: list[Rounds]) -> None:
    """Each round's figures, then medians, the ratio of the medians and the pooled POST latency."""
    print("\ningress alone (queue functions stopped) against a warm bare QueueClient.send_message loop, alternated:")
    print(f"  {'senders':>7} {'round':>5} {'bare msg/s':>10} {'ingress msg/s':>13} {'x bare':>7}")
    for rounds_of in sets:
        for number, (bare, ingress, ratio) in enumerate(
            zip(rounds_of.bare, rounds_of.ingress, rounds_of.ratios, strict=True), start=1
        ):
            print(f"  {rounds_of.senders:>7} {number:>5} {bare:10.1f} {ingress.rate:13.1f} {ratio:7.2f}")
    print(
        f"\n  {'senders':>7} {'median bare':>11} {'median ingress':>14} {'ratio':>6} {'median of ratios':>16}"
        f" {'p50 ms':>7} {'p99 ms':>7}   (goal: ratio >= 0.6)"
    )
    for rounds_of in sets:
        print(
            f"  {rounds_of.senders:>7} {rounds_of.bare_median:11.1f} {rounds_of.ingress_median:14.1f}"
            f" {rounds_of.ingress_median / rounds_of.bare_median:6.2f} {statistics.median(rounds_of.ratios):16.2f}"
            f" {rounds_of.latency(50):7.1f} {rounds_of.latency(99):7.1f}"
        )


def load() -> str:
    """The machine's load averages (1, 5, 15 min): other work on the same cores skews every figure."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    main()
