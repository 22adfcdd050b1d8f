"""Example records of the weather domain, from the shipped ERA5 subset: good hours and bad records."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from sciformer.records import ExampleRecords, Record

from .reader import read_field_records

GOOD = 4  # consecutive hours of the shipped file
#: A small forecaster for the plugin harness: 8x8 patches give 5 x 7 = 35 tokens on the 33 x 49 grid.
HARNESS_CONFIG = {"dim": 32, "depth": 2, "heads": 2, "task": "forecast", "domain_options": {"patch": 8, "num_blocks": 4}}


def example_records(path: Path) -> ExampleRecords:
    """The first hours of `path` (lazy records with targets), and a field with NaN, one of the wrong
    shape and one a reader could not read."""
    good = tuple(itertools.islice(read_field_records(path, {"lead": 1}), GOOD))
    field = good[0].data.load()
    holes = field.copy()
    holes[0, 3:5, 7:9] = np.nan
    bad = (
        Record("nan-field", holes, target=good[0].target.load()),
        Record("wrong-grid", field[:, :-1, :], target=field[:, :-1, :]),
        Record("unreadable", None, error="truncated time step"),
    )
    return ExampleRecords(good=good, bad=bad, config=HARNESS_CONFIG)
