"""Example records of the timeseries domain, from the shipped ERA5 CSV: good windows and bad records."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from sciformer.records import ExampleRecords, Record

from .reader import read_table_windows
from .series import Window

#: Windows of two channels (two grid points' 2 m temperature), 48 hours in, 12 out; 12-hour patches 6 apart.
READ = {"context": 48, "horizon": 12, "stride": 24, "value_columns": "london,edinburgh"}
HARNESS_CONFIG = {
    "dim": 32,
    "depth": 2,
    "heads": 2,
    "task": "forecast",
    "domain_options": {"patch_length": 12, "patch_stride": 6},
}


def example_records(path: Path) -> ExampleRecords:
    """Three windows of `path`; bad: a channel all missing, a context of the wrong length, a record a reader could not read."""
    good = tuple(itertools.islice(read_table_windows(path, READ), 3))
    window: Window = good[0].data
    hole = window.context.copy()
    hole[:, 1] = np.nan
    bad = (
        Record("empty-channel", Window(hole, window.channels, window.origin), target=good[0].target),
        Record("short-context", Window(window.context[1:], window.channels, window.origin), target=good[0].target),
        Record("unreadable", None, error="row 7: 'n.a.' is not a number"),
    )
    return ExampleRecords(good=good, bad=bad, config=HARNESS_CONFIG)
