"""Holding a run at a known point until it is signalled, so that tests can kill or stop it there
deterministically (SCIFORMER_PAUSE_AFTER_CHUNK for scoring, SCIFORMER_PAUSE_AFTER_STEP for training)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

POLL_SECONDS = 0.05


def hold_until(message: str, released: Callable[[], bool]) -> None:
    """Say `message` on standard error (unless empty) and wait until `released()` is true, checked every
    POLL_SECONDS: a signal handler that sets it ends the wait, one that arrived before the wait is not
    lost, and a signal without a handler (SIGKILL, SIGTERM by default) ends the process."""
    if message:
        print(message, file=sys.stderr, flush=True)
    while not released():
        time.sleep(POLL_SECONDS)
