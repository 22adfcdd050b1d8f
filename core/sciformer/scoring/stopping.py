"""Stopping a scoring run early and cleanly: on SIGTERM / SIGINT (a scheduler's wall time, Ctrl-C) the
batch in flight finishes and the chunk it belongs to is dropped; after a time limit the run stops
between chunks. Either way the run writes a results file whose unscored rows have status 2 ("not yet
scored"), and `--resume` finishes it. For tests, SCIFORMER_PAUSE_AFTER_CHUNK=k holds a run at a known point.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from types import FrameType
from typing import Any

from typing_extensions import Self

from sciformer.pausing import hold_until

SIGNALS = (signal.SIGTERM, signal.SIGINT)
PAUSE_ENV = "SCIFORMER_PAUSE_AFTER_CHUNK"


def pause_after_chunk(index: int, stop: StopRequest) -> None:
    """With SCIFORMER_PAUSE_AFTER_CHUNK=`index`, once chunk `index` is written: say so on standard error and wait
    for a signal (SIGKILL ends the run; SIGTERM / SIGINT, caught by `stop`, let it go on to stop early as usual)."""
    if os.environ.get(PAUSE_ENV, "").strip() == str(index):
        hold_until(f"sciformer: paused after chunk {index} ({PAUSE_ENV})", lambda: stop.reason is not None)


class RunStopped(Exception):
    """Raised inside the scoring loop when a stop was requested; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StopRequest:
    """Turns SIGTERM / SIGINT into a request the scoring loop honours between batches.

    A second signal of the same kind acts as it normally would (the first restores the previous
    handler), so a stuck run can still be interrupted. Handlers are installed only in the main thread.
    """

    def __init__(self, time_limit: float | None = None) -> None:
        self.deadline = None if time_limit is None else time.monotonic() + time_limit
        self.reason: str | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> Self:
        if threading.current_thread() is threading.main_thread():
            for number in SIGNALS:
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous.clear()

    def _handle(self, number: int, frame: FrameType | None) -> None:
        self.reason = signal.Signals(number).name
        signal.signal(number, self._previous.pop(number, signal.SIG_DFL))

    def check(self, *, deadline: bool = False) -> None:
        """Raise RunStopped if a signal arrived or, with `deadline`, the time limit has passed.

        The scoring loop checks signals between batches and the time limit between chunks, so every
        run with a time limit scores at least one chunk."""
        if self.reason is None and deadline and self.deadline is not None and time.monotonic() >= self.deadline:
            self.reason = "time limit"
        if self.reason is not None:
            raise RunStopped(self.reason)
