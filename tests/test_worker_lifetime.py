"""Tokenizer workers, and the resource tracker they share, end with the `sciformer score` that started them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds processes through /proc")

SCIFORMER = Path(sys.executable).with_name("sciformer")
ORDERS = "<start> man ordered the chicken\n<start> woman ordered the beef\n"
T = TypeVar("T")


def children(pid: int) -> dict[int, str]:
    """The child processes of `pid`, with their command lines."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])  # after the command name, which may hold spaces
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):  # ended meanwhile
            continue
        if parent == pid:
            found[int(stat.parent.name)] = command
    return found


def alive(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def wait_for(found: Callable[[], T], seconds: float, what: str, run: subprocess.Popen | None = None) -> T:
    """Poll `found` until it returns something truthy; fail after `seconds` or when `run` ends."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := found():
            return result
        if run is not None and run.poll() is not None:
            pytest.fail(f"the run ended (exit {run.returncode}) before {what}; give it a bigger input")
        time.sleep(0.1)
    pytest.fail(f"no {what} after {seconds} s")


def test_workers_and_resource_tracker_end_when_the_run_is_killed(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_text(ORDERS * 10_000)
    output = tmp_path / "o.h5"
    command = [str(SCIFORMER), "score", "--model", "text-who-ordered", "--input", str(big), "--output", str(output)]
    command += ["--workers", "2", "--chunk-records", "64"]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "SCIFORMER_PLUGINS": ""}
    run = subprocess.Popen(command, cwd=tmp_path, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    helpers: dict[int, str] = {}
    try:

        def started() -> dict[int, str]:
            found = children(run.pid)
            workers = [c for c in found.values() if "spawn_main" in c]
            trackers = [c for c in found.values() if "resource_tracker" in c]
            return found if len(workers) == 2 and trackers else {}

        helpers = wait_for(started, 120, "two workers and a resource tracker", run)
        chunks = output.with_name(output.name + ".chunks")
        wait_for(lambda: any(chunks.glob("*.h5")), 60, "finished chunk (workers ready)", run)
        run.send_signal(signal.SIGKILL)
        run.wait()
        deadline = time.monotonic() + 5
        while any(map(alive, helpers)) and time.monotonic() < deadline:
            time.sleep(0.1)
        survivors = {pid: command for pid, command in helpers.items() if alive(pid)}
        assert not survivors, f"still running 5 s after the run was killed: {survivors}"
    finally:
        run.kill()
        run.wait()
        for pid in helpers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
