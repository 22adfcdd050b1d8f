"""Statistics of a training period: per-channel mean and standard deviation, and the climatology.

Sums run in float64 over finite values only, a chunk of time steps at a time, so a year of global
fields never sits in memory at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from sciformer.errors import ConfigError, InputFileError
from sciformer.records import Record

from .sources import FieldRef, FieldSource, open_source

CHUNK = 64  # time steps read at once
CLIMATOLOGY_KINDS = ("mean", "hour")
# An anomaly correlation needs a climatology that is not the scored period's own weather: the mean of
# a few days per hour is close to the truth itself, and every ACC degenerates (to 0 or -1).
MIN_CLIMATOLOGY_DAYS = 7.0


@dataclass(frozen=True)
class ChannelStats:
    """Mean and standard deviation per channel, and how many finite values they came from."""

    channels: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    count: tuple[int, ...]

    def as_options(self) -> dict[str, list]:
        """The domain_options entries a model stores (`channels`, `mean`, `std`)."""
        return {"channels": list(self.channels), "mean": list(self.mean), "std": list(self.std)}


class _Moments:
    """Running per-channel sums of x and x^2 over finite values."""

    def __init__(self, channels: int) -> None:
        self.total = np.zeros(channels)
        self.squares = np.zeros(channels)
        self.count = np.zeros(channels, dtype=np.int64)

    def add(self, fields: np.ndarray) -> None:
        """Accumulate (N, C, H, W) or (C, H, W) fields."""
        fields = fields.reshape(-1, *fields.shape[-3:]).astype(np.float64)
        finite = np.isfinite(fields)
        values = np.where(finite, fields, 0.0)
        self.total += values.sum(axis=(0, 2, 3))
        self.squares += (values**2).sum(axis=(0, 2, 3))
        self.count += finite.sum(axis=(0, 2, 3))

    def result(self, channels: Sequence[str]) -> ChannelStats:
        """Mean and (population) standard deviation; a constant channel gets std 1 so it passes unscaled."""
        if np.any(self.count == 0):
            empty = [c for c, n in zip(channels, self.count) if n == 0]
            raise ConfigError(f"no finite values to compute statistics of channel(s) {empty}")
        mean = self.total / self.count
        variance = np.maximum(self.squares / self.count - mean**2, 0.0)
        std = np.sqrt(variance)
        std = np.where(std > 1e-12 * np.maximum(np.abs(mean), 1.0), std, 1.0)
        return ChannelStats(tuple(channels), tuple(mean.tolist()), tuple(std.tolist()), tuple(int(n) for n in self.count))


def source_stats(source: FieldSource, start: int = 0, stop: int | None = None) -> ChannelStats:
    """Channel statistics over time indices [start, stop) of an open source."""
    stop = len(source) if stop is None else stop
    if not 0 <= start < stop <= len(source):
        raise ConfigError(f"statistics period [{start}, {stop}) is not within the {len(source)} time steps")
    moments = _Moments(len(source.grid.channels))
    for first in range(start, stop, CHUNK):
        moments.add(source.read(first, min(first + CHUNK, stop)))
    return moments.result(source.grid.channels)


def record_stats(records: Sequence[Record], channels: Sequence[str]) -> ChannelStats:
    """Channel statistics over the input fields of records (arrays or lazy references)."""
    moments = _Moments(len(channels))
    for fields in input_fields(records):
        moments.add(fields)
    return moments.result(channels)


def input_fields(records: Iterable[Record]) -> Iterator[np.ndarray]:
    """The input fields of records, reading runs of references to one source with a single open file."""
    pending: list[FieldRef] = []

    def flush() -> Iterator[np.ndarray]:
        if not pending:
            return
        with open_source(pending[0].spec) as source:
            for ref in pending:
                yield source.read(ref.index)
        pending.clear()

    for record in records:
        if record.error:
            continue
        if isinstance(record.data, FieldRef):
            if pending and record.data.spec != pending[0].spec:
                yield from flush()
            pending.append(record.data)
            continue
        yield from flush()
        yield np.asarray(record.data, dtype=np.float32)
    yield from flush()


@dataclass(frozen=True)
class Climatology:
    """The expected field at a time: the period mean (`mean`, fields (1, C, H, W)) or the mean per UTC
    hour of day (`hour`, fields (24, C, H, W)), the reference of anomaly correlation and a baseline.
    `days` is the length of the period it averages, None when unknown."""

    kind: str
    fields: np.ndarray
    channels: tuple[str, ...]
    days: float | None = None

    def at(self, hours: np.ndarray | None, count: int) -> np.ndarray:
        """(count, C, H, W) climatological fields for valid times with these UTC hours (None for `mean`)."""
        if self.kind == "mean":
            return np.broadcast_to(self.fields[0], (count, *self.fields.shape[1:]))
        if hours is None:
            raise ConfigError("an hour-of-day climatology needs time stamps in the evaluated file")
        return self.fields[np.asarray(hours, dtype=np.int64)]

    def check_days(self, where: str) -> None:
        """Refuse a climatology of fewer than MIN_CLIMATOLOGY_DAYS days (ACC against it is meaningless)."""
        if self.days is not None and self.days < MIN_CLIMATOLOGY_DAYS:
            raise ConfigError(
                f"{where}: the climatology averages {self.days:g} day(s); anomaly correlations need one of at least {MIN_CLIMATOLOGY_DAYS:g} days "
                "(e.g. of the training period, as the model's own climatology.h5), not of the scored hours themselves"
            )

    def save(self, path: Path) -> Path:
        """Write to HDF5: dataset `climatology` with attributes `kind`, `channels` and (when known) `days`."""
        with h5py.File(path, "w") as out:
            data = out.create_dataset("climatology", data=self.fields.astype(np.float32), compression="gzip", shuffle=True)
            data.attrs["kind"] = self.kind
            data.attrs["channels"] = list(self.channels)
            if self.days is not None:
                data.attrs["days"] = self.days
        return path

    @classmethod
    def load(cls, path: Path) -> Climatology:
        """Read a file written by `save`."""
        try:
            with h5py.File(path, "r") as handle:
                data = handle["climatology"]
                kind = str(data.attrs["kind"])
                channels = tuple(str(c) for c in data.attrs["channels"])
                fields = np.asarray(data[:], dtype=np.float32)
                days = float(data.attrs["days"]) if "days" in data.attrs else None
        except (OSError, KeyError) as error:
            raise InputFileError(f"{path}: not a climatology file (dataset 'climatology' with kind and channels) ({error})") from error
        if kind not in CLIMATOLOGY_KINDS:
            raise InputFileError(f"{path}: unknown climatology kind {kind!r}")
        return cls(kind, fields, channels, days)


def compute_climatology(source: FieldSource, start: int = 0, stop: int | None = None, kind: str = "mean") -> Climatology:
    """The climatology of time indices [start, stop) of a source (NaN where a point is never finite); its
    `days` span the period's time stamps, one time step counted past the last."""
    if kind not in CLIMATOLOGY_KINDS:
        raise ConfigError(f"climatology kind must be one of {list(CLIMATOLOGY_KINDS)}, got {kind!r}")
    stop = len(source) if stop is None else stop
    if not 0 <= start < stop <= len(source):
        raise ConfigError(f"climatology period [{start}, {stop}) is not within the {len(source)} time steps")
    hours = source.grid.hours_of_day()
    if kind == "hour" and hours is None:
        raise ConfigError("an hour-of-day climatology needs a file with time stamps")
    slots = 24 if kind == "hour" else 1
    shape = (slots, len(source.grid.channels), *source.grid.shape)
    total, count = np.zeros(shape), np.zeros(shape, dtype=np.int64)
    for first in range(start, stop, CHUNK):
        last = min(first + CHUNK, stop)
        fields = source.read(first, last).astype(np.float64)
        slot = hours[first:last] if kind == "hour" else np.zeros(last - first, dtype=np.int64)
        finite = np.isfinite(fields)
        np.add.at(total, slot, np.where(finite, fields, 0.0))
        np.add.at(count, slot, finite)
    if kind == "hour" and np.any(count.reshape(slots, -1).max(axis=1) == 0):
        missing = [h for h in range(24) if count[h].max() == 0]
        raise ConfigError(f"the climatology period has no data for UTC hour(s) {missing}; use kind 'mean' or a longer period")
    with np.errstate(invalid="ignore", divide="ignore"):
        fields = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return Climatology(kind, fields.astype(np.float32), source.grid.channels, _days(source.grid.times, start, stop))


def _days(times: tuple[int, ...] | None, start: int, stop: int) -> float | None:
    """Days covered by time indices [start, stop), the last one lasting a median step; None without time stamps."""
    if times is None:
        return None
    window = np.asarray(times[start:stop], dtype=np.float64)
    step = float(np.median(np.diff(window))) if len(window) > 1 else 0.0
    return round((window[-1] - window[0] + step) / 86400, 6)
