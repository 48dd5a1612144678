"""SMS through crashes: N signed SIU bookings into a local host that is `kill -9`ed at random moments and restarted.

The app runs in a child process (`--host`, the local host with every queue function) against Azurite and
the HTTPS ACS stand-in of `localworld.acs_sms`, which sends each repeatable request once and answers 412
outside its window, as ACS does. The bench plays Epic's interface engine (a message is posted, signed
afresh, until it gets `MSA|AA`) and Event Grid (each SMS ACS sent has its delivery report applied through
the app's own `handle_acs_event`, retried while the job's send is not recorded). A killer thread sends
SIGKILL to the host after a random 0.5 to 4 s of uptime, then starts it again, until `--kills` kills.

Then it counts, per appointment, the SMS ACS actually sent (their tag names the job, the job log its
appointment): goal 0 lost, 0 duplicated. Jobs left `unconfirmed` (their delivery report settles them) are
counted too. First, a run without faults of the same pipeline in this process prints the storage
transactions per HL7 message made by our code (bench/pipeline.py's meter and stages), with ACS as sender.
A benchmark prints figures; it never asserts.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as `python bench/sms_faults.py`: the app and tests/ import from the root

import requests  # noqa: E402

from bench.pipeline import GEO, print_breakdown, signed_bookings, stage_of_current_thread  # noqa: E402
from localworld.acs_sms import AcsSmsStandIn, SentSms  # noqa: E402
from shared import bootstrap  # noqa: E402
from shared.adapters.metering import StorageMeter  # noqa: E402
from shared.adapters.sms_jobs import SMS_JOBS, JobLog, JobStatus  # noqa: E402
from shared.devhost.azurite import Azurite  # noqa: E402
from shared.domain.appointment import appointment_key  # noqa: E402
from shared.domain.sms_delivery import DELIVERY_REPORT_EVENT, parse_delivery_tag  # noqa: E402
from shared.errors import UpstreamError  # noqa: E402
from shared.services.sms_events import AcsEventContext, handle_acs_event  # noqa: E402
from tests.hl7_support import Sender, seed_sender  # noqa: E402

DEFAULT_APPOINTMENTS = 1000
DEFAULT_KILLS = 25
DEFAULT_SENDERS = 4
METERED_MESSAGES = 100
UPTIME_SECONDS = (0.5, 4.0)
DRAIN_TIMEOUT_SECONDS = 900.0
QUIET_SECONDS = 5.0
ACS_LATENCY_SECONDS = 0.1
"""ACS's answer comes this long after it sent the SMS: a kill in between is the case repeatability is for."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Host:
    """The app in a child process, on one port across restarts."""

    def __init__(self, port: int, env: dict[str, str]) -> None:
        self.port = port
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [sys.executable, str(Path(__file__).resolve()), "--host", str(self.port)]
        self.process = subprocess.Popen(command, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.kills += 1

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def post_until_acknowledged(url: str, sender: Sender, body: bytes, stop: threading.Event) -> int:
    """POST `body` as an interface engine does: again (signed afresh) until `MSA|AA`; returns the tries."""
    tries = 0
    while not stop.is_set():
        tries += 1
        headers = {**sender.headers(body), "Content-Type": "application/hl7-v2"}
        try:
            response = requests.post(url, data=body, headers=headers, timeout=30)
            if response.status_code == 200 and "MSA|AA" in response.text:
                return tries
        except requests.RequestException:
            pass
        time.sleep(0.3)
    return tries


class EventGrid:
    """Delivers each sent SMS's delivery report to the app's event handler, retrying as Event Grid does."""

    def __init__(self, acs: AcsSmsStandIn, opt_out_key: bytes) -> None:
        self.acs = acs
        self.opt_out_key = opt_out_key
        self.delivered = 0
        self._next = 0
        self._pending: list[SentSms] = []

    def deliver(self) -> None:
        self._pending.extend(self.acs.sent[self._next :])
        self._next = len(self.acs.sent)
        waiting = []
        for sms in self._pending:
            now = datetime.now(UTC)
            context = AcsEventContext(bootstrap.get_storage(), bootstrap.get_config_store(), self.opt_out_key, now)
            try:
                handle_acs_event(DELIVERY_REPORT_EVENT, self.acs.delivery_report(sms), context)
                self.delivered += 1
            except UpstreamError:
                waiting.append(sms)
        self._pending = waiting


def killer(host: Host, kills: int, stop: threading.Event, rng: random.Random) -> None:
    while host.kills < kills and not stop.wait(rng.uniform(*UPTIME_SECONDS)):
        host.kill()
        host.start()


def count_per_appointment(acs: AcsSmsStandIn, appointments: set[str]) -> tuple[int, int, Counter[str]]:
    """Lost and duplicated appointments' SMS, and the job statuses seen, from what ACS sent and the job log."""
    account = bootstrap.get_storage().for_geo(GEO)
    log = JobLog(account)
    per_appointment: Counter[str] = Counter()
    for sms in acs.sent:
        ref = parse_delivery_tag(sms.tag)
        per_appointment[log.get(ref.endpoint_id, ref.job_id).entity["AppointmentKey"]] += 1
    lost = sum(1 for key in appointments if per_appointment[key] == 0)
    duplicated = sum(count - 1 for count in per_appointment.values() if count > 1)
    statuses = Counter(row.entity["Status"] for row in account.table(SMS_JOBS).query("Status ne ''", {}, ["Status"]))
    return lost, duplicated, statuses


def appointment_keys(run: str, count: int) -> set[str]:
    """The appointment keys the app stores for the bookings of `signed_bookings(sender, count, run)`."""
    return {appointment_key(f"{run}-{i}") for i in range(count)}


def metered_run(acs: AcsSmsStandIn, sender: Sender) -> None:
    """The pipeline without faults, in this process, metered: storage transactions per HL7 message."""
    import function_app
    from shared.devhost.host import DevHost

    meter = StorageMeter(scope=stage_of_current_thread)
    bootstrap.use_storage_meter(meter)
    host = DevHost(function_app.app, port=0, timers=False)
    host.start()
    try:
        url = f"{host.base_url}/api/hl7/{sender.endpoint.id}"
        sent_before = len(acs.sent)
        for post in signed_bookings(sender, METERED_MESSAGES, "metered"):
            requests.post(url, data=post.body, headers=post.headers, timeout=30).raise_for_status()
        while len(acs.sent) < sent_before + METERED_MESSAGES:
            time.sleep(0.1)
        seen = -1
        while seen != meter.transactions:
            seen = meter.transactions
            time.sleep(1.0)
    finally:
        host.stop()
        bootstrap.use_storage_meter(None)
    per_message = meter.transactions / METERED_MESSAGES
    print(f"storage transactions per HL7 message by our code, no faults, ACS sender: {per_message:.2f}")
    print_breakdown(meter.calls, METERED_MESSAGES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--appointments", type=int, default=DEFAULT_APPOINTMENTS)
    parser.add_argument("--kills", type=int, default=DEFAULT_KILLS)
    parser.add_argument("--senders", type=int, default=DEFAULT_SENDERS)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--host", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.host is not None:
        serve(args.host)
        return
    with tempfile.TemporaryDirectory(prefix="bench-sms-faults-") as scratch:
        azurite = Azurite.for_every_geo(log_path=Path(scratch) / "azurite.log")
        azurite.start()
        try:
            with AcsSmsStandIn() as acs:
                run(azurite, acs, args)
        finally:
            azurite.stop()


def serve(port: int) -> None:
    """The child: the local host with HTTP and queue functions, until killed."""
    import function_app
    from shared.devhost.host import DevHost

    DevHost(function_app.app, port=port, timers=False).start()
    threading.Event().wait()


def run(azurite: Azurite, acs: AcsSmsStandIn, args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    opt_out_key = secrets.token_bytes(32)
    port = free_port()
    os.environ.update(
        {
            **azurite.storage_settings(f"http://127.0.0.1:{port}"),
            "SMS_PROVIDER": "acs",
            "ACS_CONNECTION_STRING": acs.connection_string(),
            "OPT_OUT_HASH_KEY": base64.b64encode(opt_out_key).decode(),
        }
    )
    bootstrap.reset()
    sender = seed_sender(GEO, public_base_url=f"http://127.0.0.1:{port}")
    # The app's SMS client trusts the stand-in's certificate the way requests reads a CA bundle.
    os.environ["REQUESTS_CA_BUNDLE"] = acs.ca_file or ""
    metered_run(acs, sender)

    n = args.appointments
    run_id = f"faults-{secrets.token_hex(3)}"
    bodies = [post.body for post in signed_bookings(sender, n, run_id)]
    keys = appointment_keys(run_id, n)
    host = Host(port, dict(os.environ))
    host.start()
    stop = threading.Event()
    kill_thread = threading.Thread(target=killer, args=(host, args.kills, stop, rng), daemon=True)
    grid = EventGrid(acs, opt_out_key)
    sent_before, requests_before = len(acs.sent), len(acs.requests)
    acs.delay_seconds = ACS_LATENCY_SECONDS
    started = time.monotonic()
    kill_thread.start()
    url = f"{host.url}/api/hl7/{sender.endpoint.id}"
    tries: list[int] = []
    lock = threading.Lock()

    def post_share(share: list[bytes]) -> None:
        for body in share:
            count = post_until_acknowledged(url, sender, body, stop)
            with lock:
                tries.append(count)

    posters = [threading.Thread(target=post_share, args=(bodies[k :: args.senders],)) for k in range(args.senders)]
    for poster in posters:
        poster.start()
    for poster in posters:
        poster.join()
    print(f"\n{n} bookings acknowledged (MSA|AA) after {sum(tries) - n} repeated POSTs; kills so far: {host.kills}")
    deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
    quiet_since, seen = time.monotonic(), -1
    while time.monotonic() < deadline:
        grid.deliver()
        if len(acs.sent) != seen:
            seen, quiet_since = len(acs.sent), time.monotonic()
        if (
            not kill_thread.is_alive()
            and time.monotonic() - quiet_since > QUIET_SECONDS
            and len(acs.sent) - sent_before >= n
        ):
            break
        time.sleep(0.5)
    stop.set()
    kill_thread.join()
    grid.deliver()
    host.stop()
    elapsed = time.monotonic() - started
    lost, duplicated, statuses = count_per_appointment(acs, keys)
    print(f"kill -9 of the host: {host.kills} times over {elapsed:.0f} s, each after 0.5-4 s of uptime")
    print(
        f"appointments: {n}   SMS ACS sent for them: {len(acs.sent) - sent_before}   "
        f"requests ACS received: {len(acs.requests) - requests_before} (the rest were repeats ACS answered from memory)"
    )
    print(f"lost: {lost}   duplicated: {duplicated}   (goal: 0 and 0)")
    print(
        f"job log statuses: {dict(statuses)}   (unconfirmed: {statuses[JobStatus.UNCONFIRMED]}, "
        f"unknown: {statuses[JobStatus.UNKNOWN]})"
    )
    print(f"delivery reports applied: {grid.delivered}")


if __name__ == "__main__":
    main()
