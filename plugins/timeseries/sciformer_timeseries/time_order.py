"""The rule that a series' time values strictly increase, checked when it is read, never fixed by sorting.

Time labels that are all numbers are compared as numbers, those that are all date-times (ISO, as numpy
reads them) as date-times; empty labels are skipped. Labels of any other kind cannot be ordered, so only
a label that repeats is refused. A series that breaks the rule is named with its first offending step.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np


def comparable(labels: Sequence[str]) -> np.ndarray | None:
    """Time labels as float64 or datetime64 (NaN / NaT where empty); None when they are neither numbers nor date-times."""
    for missing, dtype in (("nan", np.float64), ("NaT", "datetime64")):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # numpy warns of time zones, then converts them to UTC
                return np.array([label.strip() or missing for label in labels], dtype=dtype)
        except (TypeError, ValueError, OverflowError):
            continue
    return None


def order_problem(labels: Sequence[str], place: Callable[[int], str], values: np.ndarray | None = None) -> str | None:
    """Why time `labels` (one per step; `place(step)` names a step's row) do not strictly increase, else None.
    `values` (numbers or date-times) replaces the labels for comparing when the file stores them apart."""
    values = comparable(labels) if values is None else values
    if values is None:
        return _repeat(labels, place)
    kept = np.flatnonzero(~np.isnat(values) if values.dtype.kind == "M" else np.isfinite(values))
    back = np.flatnonzero(values[kept[1:]] <= values[kept[:-1]])
    if not back.size:
        return None
    before, step = int(kept[back[0]]), int(kept[back[0] + 1])
    if values[step] == values[before]:
        return f"times must increase: time {labels[step]} appears twice ({place(before)} and {place(step)})"
    return f"times must increase: {place(step)} ({labels[step]}) comes after {labels[before]} ({place(before)})"


def _repeat(labels: Sequence[str], place: Callable[[int], str]) -> str | None:
    """The first label that repeats an earlier one, for labels that cannot be ordered."""
    seen: dict[str, int] = {}
    for step, label in enumerate(labels):
        key = label.strip()
        if key and key in seen:
            return f"times must increase: time {key} appears twice ({place(seen[key])} and {place(step)})"
        seen.setdefault(key, step)
    return None
