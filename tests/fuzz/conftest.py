"""The fuzz suite's tally: how many requests each route got and the highest status it answered, printed at
the end of the run (`make fuzz` runs the suite with more examples)."""

from __future__ import annotations

import os
from collections import Counter, defaultdict

import pytest

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES") or 10)
"""Examples per route and per queue function: small in CI (about a minute on 2 cores), large in `make fuzz`."""

SENT: Counter[str] = Counter()
STATUSES: defaultdict[str, Counter[int]] = defaultdict(Counter)


def record(route: str, status: int) -> None:
    SENT[route] += 1
    STATUSES[route][status] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not SENT:
        return
    write = terminalreporter.write_line
    write(f"fuzz: {sum(SENT.values())} requests over {len(SENT)} routes ({FUZZ_EXAMPLES} examples each way)")
    for route in sorted(SENT):
        statuses = ", ".join(f"{status}x{count}" for status, count in sorted(STATUSES[route].items()))
        write(f"  {SENT[route]:>6}  {route}  [{statuses}]")
    server_errors = sum(count for c in STATUSES.values() for status, count in c.items() if status >= 500)
    write(f"fuzz: {server_errors} responses >= 500")
