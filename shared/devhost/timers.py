"""Fire timer triggers on their NCRONTAB schedules (six fields, seconds first), in UTC."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from azure.functions.timer import TimerRequest
from croniter import croniter

from shared.devhost.functions import Function, resolve

logger = logging.getLogger(__name__)

PAST_DUE_SECONDS = 5.0


class TimerRunner:
    def __init__(self, function: Function, env: dict[str, str]) -> None:
        self.function = function
        self.schedule = resolve(function.trigger["schedule"], env)
        if not croniter.is_valid(self.schedule, second_at_beginning=True):
            raise ValueError(f"Timer {function.name}: {self.schedule!r} is not an NCRONTAB expression")
        self.run_on_startup = bool(function.trigger.get("runOnStartup"))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"devhost-timer-{function.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        if self.run_on_startup:
            self._fire(datetime.now(UTC))
        schedule = croniter(self.schedule, datetime.now(UTC), second_at_beginning=True)
        while not self._stop.is_set():
            due = schedule.get_next(datetime)
            if self._stop.wait(max(0.0, (due - datetime.now(UTC)).total_seconds())):
                return
            self._fire(due)

    def _fire(self, due: datetime) -> None:
        late = (datetime.now(UTC) - due).total_seconds()
        try:
            self.function.call(TimerRequest(past_due=late > PAST_DUE_SECONDS, schedule={"AdjustForDST": True}))
        except Exception:
            # Timers are not retried: the next tick picks up what this one left.
            logger.exception("Timer %s failed", self.function.name)
