"""Start-up cost of the commands that neither embed nor serve, as whole processes.

    python bench/cli_startup.py [--runs 7]

Each command runs `--runs` times (after one warm-up) in a data directory that `deskpilot db
upgrade` prepared, so no run pays a first migration. Prints one JSON object: per command the
median, fastest and slowest wall time, median CPU time and peak resident memory of the
process, the machine's load average, and the target (≤ 0.6 s and ≤ 150 MiB each).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = [["--help"], ["plugins"], ["config", "check"], ["sync", "status"], ["escalations"],
            ["db", "upgrade"]]
TARGET_SECONDS = 0.6
TARGET_MIB = 150


def deskpilot() -> list[str]:
    script = Path(sys.executable).with_name("deskpilot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "deskpilot.core.cli"]


def run_once(command: list[str], cwd: Path) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS in MiB) of one process.

    CPU time (user + system) is what the process itself cost; on a loaded machine wall time
    also counts the time it waited for a core."""
    started = time.perf_counter()
    process = subprocess.Popen([*deskpilot(), *command], cwd=cwd, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"deskpilot {' '.join(command)} failed")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        cwd = Path(folder)
        subprocess.run([*deskpilot(), "db", "upgrade"], cwd=cwd, check=True,
                       capture_output=True)
        for command in COMMANDS:
            run_once(command, cwd)  # warm-up: page cache, .pyc files
            walls, cpus, peaks = zip(*(run_once(command, cwd) for _ in range(args.runs)),
                                     strict=True)
            results[" ".join(command)] = {
                "median_s": round(statistics.median(walls), 3),
                "min_s": round(min(walls), 3), "max_s": round(max(walls), 3),
                "median_cpu_s": round(statistics.median(cpus), 3),
                "peak_mib": round(max(peaks), 1),
                "meets_target": statistics.median(walls) <= TARGET_SECONDS
                and max(peaks) <= TARGET_MIB,
            }
    print(json.dumps({"runs": args.runs, "load_average": os.getloadavg()[0],
                      "target": {"seconds": TARGET_SECONDS, "mib": TARGET_MIB},
                      "commands": results}, indent=2))


if __name__ == "__main__":
    main()
