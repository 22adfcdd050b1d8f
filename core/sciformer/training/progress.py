"""The live progress line of a training run on a terminal: step, loss, learning rate, throughput and the
last validation metric. Batch logs (stderr not a terminal) and ranks other than 0 show nothing."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


def on_terminal() -> bool:
    """Whether stderr is an interactive terminal."""
    return sys.stderr.isatty()


def log_console() -> Console:
    """The console that log records go to (so that they print above the bar), else one on stderr."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, RichHandler):
            return handler.console
    return Console(stderr=True)


class TrainingProgress:
    """A rich progress bar over optimizer steps; every method is a no-op when disabled."""

    def __init__(self, metric: str, enabled: bool, console: Console | None = None) -> None:
        self.metric = metric
        self.enabled = enabled
        self.console = console
        self.bar: Progress | None = None
        self.task = 0
        self.records = 0
        self.seconds = 0.0
        self.valid = ""
        self.train = ""

    @contextmanager
    def running(self, total_steps: int, done_steps: int) -> Iterator[TrainingProgress]:
        """Show the bar while the block runs (from `done_steps` of `total_steps` when resuming)."""
        if not self.enabled:
            yield self
            return
        self.bar = Progress(
            TextColumn("training"), BarColumn(bar_width=20), TextColumn("step {task.completed}/{task.total}"),
            TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TimeRemainingColumn(), console=self.console or log_console(),
        )
        self.task = self.bar.add_task("training", total=total_steps, completed=done_steps, status="")
        with self.bar:
            yield self
        self.bar = None

    @contextmanager
    def timed(self, records: int) -> Iterator[None]:
        """Time one optimizer step over `records` records, for the throughput."""
        started = time.perf_counter()
        yield
        self.seconds += time.perf_counter() - started
        self.records += records

    def step(self, step: int, loss: float, lr: float) -> None:
        """Show the step just taken."""
        rate = self.records / max(self.seconds, 1e-9)
        self.train = f"loss {loss:.4f}  lr {lr:.2e}  {rate:,.0f} records/s"
        self._show(completed=step)

    def validated(self, metrics: Mapping[str, float]) -> None:
        """Show the last validation value of the selection metric."""
        if self.metric in metrics:
            self.valid = f"  valid {self.metric} {metrics[self.metric]:.4g}"
            self._show()

    def _show(self, **changes: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, status=self.train + self.valid, **changes)
