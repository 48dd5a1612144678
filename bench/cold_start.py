"""Cold start: a fresh interpreter importing the app and indexing its functions, against bare azure.functions.

Prints the median wall time and peak RSS of each over several fresh processes, and their ratios.
Goal: ratio at most 1.3 (heavy SDKs load only on the path that uses them).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = {
    "bare azure.functions": "import azure.functions",
    "function_app indexed": "import function_app; function_app.app.get_functions()",
}


def measure(code: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one fresh `python -c code`."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    _, status, usage = os.wait4(process.pid, 0)  # rusage of this child alone
    process.returncode = status
    elapsed = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"`{code}` failed")
    return elapsed, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    for code in CASES.values():
        measure(code)  # warm the file cache so both cases start alike
    # Interleaved, one run of each case in turn: load from other processes then drifts across both
    # cases alike instead of skewing whichever case happened to run during it.
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in CASES}
    for _ in range(args.runs):
        for name, code in CASES.items():
            runs[name].append(measure(code))
    results: dict[str, tuple[float, float]] = {}
    for name, measured in runs.items():
        results[name] = (statistics.median(r[0] for r in measured), statistics.median(r[1] for r in measured))
        print(f"{name:<24} wall {results[name][0] * 1000:7.1f} ms   peak RSS {results[name][1]:6.1f} MiB")
    (bare_t, bare_m), (app_t, app_m) = results.values()
    print(f"ratio (app / bare)       wall {app_t / bare_t:7.2f} x    peak RSS {app_m / bare_m:6.2f} x   (goal: <= 1.3)")


if __name__ == "__main__":
    main()
