"""Tokenizer workers, and the resource tracker they share, end with the `sciformer score` that started them."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds processes through /proc")

SCIFORMER = Path(sys.executable).with_name("sciformer")
ORDERS = "<start> man ordered the chicken\n<start> woman ordered the beef\n"


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


def ended_within(pids: Iterable[int], seconds: float) -> dict[int, str]:
    """Wait (pidfd, no polling) up to `seconds` for the processes `pids` to end; returns those still running."""
    deadline = time.monotonic() + seconds
    survivors = {}
    for pid in pids:
        try:
            handle = os.pidfd_open(pid)
        except ProcessLookupError:  # already gone
            continue
        try:
            ready, _, _ = select.select([handle], [], [], max(deadline - time.monotonic(), 0.0))
        finally:
            os.close(handle)
        if not ready:
            survivors[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    return survivors


def test_workers_and_resource_tracker_end_when_the_run_is_killed(tmp_path: Path) -> None:
    """Paused once its first chunk is written (SCIFORMER_PAUSE_AFTER_CHUNK=0), the run has two tokenizer workers and a
    resource tracker; killed with SIGKILL, all of them end within 5 s."""
    big = tmp_path / "big.txt"
    big.write_text(ORDERS * 10_000)
    output = tmp_path / "o.h5"
    command = [str(SCIFORMER), "score", "--model", "text-who-ordered", "--input", str(big), "--output", str(output)]
    command += ["--workers", "2", "--chunk-records", "64"]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "SCIFORMER_PLUGINS": "", "SCIFORMER_PAUSE_AFTER_CHUNK": "0"}
    run = subprocess.Popen(command, cwd=tmp_path, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    helpers: dict[int, str] = {}
    try:
        if not any(line.startswith("sciformer: paused after chunk 0 ") for line in iter(run.stderr.readline, "")):
            pytest.fail(f"the run ended (exit {run.wait()}) without pausing after its first chunk")
        helpers = children(run.pid)
        assert len([c for c in helpers.values() if "spawn_main" in c]) == 2, helpers
        assert [c for c in helpers.values() if "resource_tracker" in c], helpers
        run.send_signal(signal.SIGKILL)
        run.wait()
        survivors = ended_within(helpers, 5)
        assert not survivors, f"still running 5 s after the run was killed: {survivors}"
    finally:
        run.kill()
        run.wait()
        run.stderr.close()
        for pid in helpers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
