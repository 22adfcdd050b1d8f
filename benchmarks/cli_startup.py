"""Start-up time of the listing commands, each run as a fresh process as a user runs it.

    .venv/bin/python benchmarks/cli_startup.py --runs 7

Targets: `sciformer --help` under 0.5 s; `sciformer models` (and the other listings) under 1 s. A
listing imports no torch and no plugin's heavy libraries (tests/test_cli_startup.py checks that).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = (  # (arguments, target in seconds)
    (("--help",), 0.5),
    (("models",), 1.0),
    (("models", "--json"), 1.0),
    (("plugins",), 1.0),
)


def sciformer_command() -> list[str]:
    """The `sciformer` console script beside this interpreter, else `python -m sciformer`."""
    script = Path(sys.executable).with_name("sciformer")
    if script.is_file():
        return [str(script)]
    found = shutil.which("sciformer")
    return [found] if found else [sys.executable, "-m", "sciformer"]


def wall_times(command: list[str], runs: int) -> list[float]:
    """Seconds of each of `runs` runs of `command` (output discarded; a failure raises)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    """Time each listing command and print its median and best against the target."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs per command (default 5); the median is reported")
    args = parser.parse_args()
    base = sciformer_command()
    print(f"{'command':<28} {'median':>8} {'best':>8} {'target':>8}  met?")
    for arguments, target in COMMANDS:
        times = wall_times([*base, *arguments], args.runs)
        median = statistics.median(times)
        label = " ".join(("sciformer", *arguments))
        print(f"{label:<28} {median:>7.2f}s {min(times):>7.2f}s {target:>7.1f}s  {'yes' if median < target else 'no'}")


if __name__ == "__main__":
    main()
