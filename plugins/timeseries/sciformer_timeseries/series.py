"""Series read from a file, and the windows (records) cut from them on the fly.

A `Series` holds one (T, C) float32 array; a `Window` is a view of `context` steps of it (no copy of
every window is made), its target the view of the `horizon` steps after it. Windows start every `stride`
steps inside the time range [start, stop) of each series, so earlier and later parts of a series can be
split into training and test sets; nothing is shuffled across time. Record ids are
`SERIES@ORIGIN`, ORIGIN the time stamp (or index) of the first forecast step; past the end of a
series (option `future`), the last stamp and how many steps after it (`2019-03-31T23:00+1`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sciformer.errors import ConfigError
from sciformer.records import Record

log = logging.getLogger(__name__)

NAN_POLICIES = ("bad", "fill")


@dataclass(frozen=True)
class Series:
    """One series: `values` (T, C) float32 (NaN where missing), channel names, time labels (T,) or None,
    `broken` {time index: reason} for cells that could not be read (the windows holding them are bad), and
    `problem`, why none of its windows can be used (its times do not increase), else None."""

    name: str
    values: np.ndarray
    channels: tuple[str, ...]
    times: tuple[str, ...] | None = None
    broken: Mapping[int, str] | None = None
    problem: str | None = None

    def label(self, index: int) -> str:
        """The time stamp of step `index` (`LAST+k` k steps after the last one), or the index itself."""
        if self.times is None:
            return str(index)
        return self.times[index] if index < len(self.times) else f"{self.times[-1]}+{index - len(self.times) + 1}"


@dataclass(frozen=True)
class Window:
    """A record's data: the context (L, C) in the series' units, its channel names, its forecast origin and,
    when the series has evenly spaced time stamps, `times` (L + H,) datetime64[s] of its context and forecast
    steps (past the end of the series, continued at that spacing); None otherwise."""

    context: np.ndarray
    channels: tuple[str, ...]
    origin: str
    times: np.ndarray | None = None


def series_stamps(series: Series, length: int) -> np.ndarray | None:
    """(length,) datetime64[s] stamps of the series' steps, continued past its end at its spacing; None when its
    time labels are not date-times or not evenly spaced."""
    if series.times is None or len(series.times) < 2:
        return None
    try:
        stamps = np.array(series.times, dtype="datetime64[s]")
    except ValueError:
        return None
    spacing = np.diff(stamps)
    if not (spacing == spacing[0]).all() or spacing[0] <= np.timedelta64(0, "s"):
        return None
    return stamps[0] + spacing[0] * np.arange(max(length, len(stamps)))


@dataclass(frozen=True)
class WindowOptions:
    """The reader options that shape windows (see `reader_options.WINDOW_OPTIONS`)."""

    context: int
    horizon: int
    stride: int = 1
    start: int = 0
    stop: int | None = None
    nan_policy: str = "bad"
    future: bool = False

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> WindowOptions:
        """Validated window options; `context` and `horizon` are required."""
        missing = [key for key in ("context", "horizon") if options.get(key) in (None, "")]
        if missing:
            raise ConfigError(
                f"time-series readers need the option(s) {missing} (a model's checkpoint supplies them when scoring)"
            )
        values = {
            key: _integer(options, key)
            for key in ("context", "horizon", "stride", "start", "stop")
            if options.get(key) not in (None, "")
        }
        policy = str(options.get("nan_policy", "bad"))
        if policy not in NAN_POLICIES:
            raise ConfigError(f"reader option nan_policy must be one of {list(NAN_POLICIES)}, got {policy!r}")
        future = str(options.get("future", "false")).lower()
        if future not in ("true", "false", "1", "0"):
            raise ConfigError(f"reader option future must be true or false, got {options.get('future')!r}")
        parsed = cls(**values, nan_policy=policy, future=future in ("true", "1"))
        if parsed.context < 1 or parsed.horizon < 1 or parsed.stride < 1 or parsed.start < 0:
            raise ConfigError("reader options context, horizon and stride must be positive and start not negative")
        return parsed


def _integer(options: Mapping[str, Any], key: str) -> int:
    try:
        return int(options[key])
    except (TypeError, ValueError):
        raise ConfigError(f"reader option {key} must be an integer, got {options[key]!r}") from None


def windows(series: Iterable[Series], options: WindowOptions) -> Iterator[Record]:
    """Records of every window of every series, lazily (see the module docstring)."""
    for one in series:
        yield from _series_windows(one, options)


def _series_windows(series: Series, options: WindowOptions) -> Iterator[Record]:
    count = len(series.values)
    stop = count if options.stop is None else min(count, options.stop if options.stop >= 0 else count + options.stop)
    span = options.context + options.horizon
    stamps = series_stamps(series, stop + options.horizon)
    starts = list(range(options.start, stop - span + 1, options.stride))
    for begin in starts:
        yield _record(series, begin, begin + options.context, begin + span, options, stamps)
    last = stop - options.context
    if options.future and last >= options.start:
        yield _record(series, last, stop, None, options, stamps)
    elif not starts:
        needed = options.context if options.future else span
        hint = "" if options.future else f"; option future=true forecasts from the last {options.context} steps"
        log.warning("series %r: %d step(s) in [%d, %d) hold no window of %d steps (context %d%s)%s", series.name, max(stop - options.start, 0),
                    options.start, stop, needed, options.context, "" if options.future else f" + horizon {options.horizon}", hint)  # fmt: skip


def _record(series: Series, begin: int, origin: int, end: int | None, options: WindowOptions, stamps: np.ndarray | None) -> Record:
    context = series.values[begin:origin]
    target = None if end is None else series.values[origin:end]
    times = None if stamps is None else stamps[begin : origin + options.horizon]
    window = Window(context, series.channels, series.label(origin), times)
    return Record(
        id=f"{series.name}@{window.origin}", data=window, target=target, error=_problem(series, begin, end or origin, options)
    )


def _problem(series: Series, begin: int, end: int, options: WindowOptions) -> str | None:
    """Why the window [begin, end) is bad: its series' times, an unreadable cell, or (nan_policy bad) a missing value."""
    if series.problem:
        return series.problem
    for index, reason in (series.broken or {}).items():
        if begin <= index < end:
            return reason
    if options.nan_policy == "bad":
        missing = ~np.isfinite(series.values[begin:end])
        if missing.any():
            step, channel = np.argwhere(missing)[0]
            return (
                f"{int(missing.sum())} missing value(s), the first at {series.label(begin + int(step))} "
                f"in channel {series.channels[channel]!r}; "
                "read with nan_policy=fill to fill and mask them"
            )
    return None
