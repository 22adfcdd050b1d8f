"""Evaluating a forecaster on a field file: rollouts from every initial time, skill per channel and lead
time against persistence and climatology, and the forecasts written to HDF5."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from sciformer.errors import ConfigError, InputFileError

from .grid import latitude_weights
from .metrics import weighted_acc, weighted_rmse
from .rollout import Forecaster
from .sources import FieldSource
from .stats import Climatology

log = logging.getLogger(__name__)

FORECASTERS = ("model", "persistence", "climatology")
STRING = h5py.string_dtype(encoding="utf-8")


@dataclass
class Evaluation:
    """Mean skill over `samples` initial times: `rmse[name]` and `acc[name]` are (leads, channels) arrays
    for each of FORECASTERS; leads are in time steps of the file."""

    leads: list[int]
    channels: tuple[str, ...]
    samples: int
    skipped: int
    rmse: dict[str, np.ndarray] = field(default_factory=dict)
    acc: dict[str, np.ndarray] = field(default_factory=dict)
    output: Path | None = None

    def rows(self) -> list[dict[str, Any]]:
        """One row per lead and channel with every forecaster's RMSE and ACC."""
        rows = []
        for i, lead in enumerate(self.leads):
            for c, channel in enumerate(self.channels):
                row: dict[str, Any] = {"lead": lead, "channel": channel}
                for name in FORECASTERS:
                    row[f"rmse_{name}"] = float(self.rmse[name][i, c])
                    row[f"acc_{name}"] = float(self.acc[name][i, c])
                rows.append(row)
        return rows

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {"samples": self.samples, "skipped": self.skipped, "leads": self.leads, "channels": list(self.channels), "scores": self.rows()}


def evaluate(
    forecaster: Forecaster,
    source: FieldSource,
    leads: Sequence[int],
    climatology: Climatology,
    *,
    start: int = 0,
    stop: int | None = None,
    output: Path | None = None,
    batch_size: int = 16,
    overwrite: bool = False,
) -> Evaluation:
    """Forecast from every initial time t in [start, stop - max(leads)) of `source` and score at each lead.

    Leads are in time steps of the file and must be multiples of the model step. The truth of every
    forecast lies inside [start, stop). The climatology must span at least MIN_CLIMATOLOGY_DAYS days
    (when it knows its span). With `output`, forecasts and truths are written to HDF5.
    """
    options = forecaster.options
    if source.grid.channels != options.channels or source.grid.shape != options.grid:
        raise InputFileError(
            f"{source.spec.path}: channels {list(source.grid.channels)} on a {source.grid.shape} grid do not match the model's "
            f"{list(options.channels)} on {options.grid}"
        )
    if climatology.channels != options.channels or climatology.fields.shape[-2:] != options.grid:
        raise ConfigError(f"the climatology (channels {list(climatology.channels)}, grid {climatology.fields.shape[-2:]}) does not match the model")
    climatology.check_days("weather evaluate")
    leads = sorted({int(lead) for lead in leads})
    steps = forecaster.steps_for(leads)
    stop = len(source) if stop is None else stop
    last_init = stop - leads[-1]
    if not 0 <= start < last_init or stop > len(source):
        raise ConfigError(f"no initial time in [{start}, {stop}) leaves room for a {leads[-1]}-step lead (file has {len(source)} steps)")
    if output is not None and Path(output).exists() and not overwrite:
        raise InputFileError(f"output {output} exists; pass --overwrite to replace it")
    weights = latitude_weights(source.grid.latitudes or options.latitudes, options.grid[0])
    hours = source.grid.hours_of_day()
    totals = {f"{kind}/{name}": np.zeros((len(leads), len(options.channels))) for kind in ("rmse", "acc") for name in FORECASTERS}
    writer = _ForecastWriter(Path(output), source, leads, options.channels) if output is not None else None
    samples = skipped = 0
    try:
        for first in range(start, last_init, batch_size):
            count = min(batch_size, last_init - first)
            chunk = source.read(first, first + count + leads[-1])  # inputs and every truth of this batch
            inputs = chunk[:count]
            usable = np.isfinite(inputs).all(axis=(1, 2, 3)) if options.nan_policy == "bad" else np.ones(count, dtype=bool)
            skipped += int((~usable).sum())
            if not usable.any():
                continue
            inits = np.arange(first, first + count)[usable]
            init_hours = None if source.grid.times is None else (np.asarray(source.grid.times)[inits] % 86400) / 3600.0
            if options.time_features and init_hours is None:
                raise InputFileError(f"{source.spec.path}: the model uses the time of day, but the file has no time stamps")
            rollouts = forecaster.forecast(inputs[usable], max(steps), init_hours)  # (S, n, C, H, W)
            forecasts = np.stack([rollouts[s - 1] for s in steps], axis=1)  # (n, L, C, H, W)
            truths = np.stack([chunk[lead : lead + count][usable] for lead in leads], axis=1)
            clim = np.stack([climatology.at(None if hours is None else hours[inits + lead], len(inits)) for lead in leads], axis=1)
            persistence = np.broadcast_to(inputs[usable][:, None], truths.shape)
            for name, guess in (("model", forecasts), ("persistence", persistence), ("climatology", clim)):
                totals[f"rmse/{name}"] += weighted_rmse(guess, truths, weights).sum(axis=0)
                totals[f"acc/{name}"] += weighted_acc(guess, truths, clim, weights).sum(axis=0)
            samples += len(inits)
            if writer is not None:
                writer.append(inits, forecasts, truths)
        if samples == 0:
            raise InputFileError(f"{source.spec.path}: every initial time in [{start}, {last_init}) has non-finite values")
        result = Evaluation(leads, options.channels, samples, skipped)
        for name in FORECASTERS:
            result.rmse[name] = totals[f"rmse/{name}"] / samples
            result.acc[name] = totals[f"acc/{name}"] / samples
        if writer is not None:
            result.output = writer.close(result)
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    if skipped:
        log.warning("%d initial time(s) with non-finite inputs were skipped", skipped)
    return result


def _lead_hours(times: Sequence[int] | None, leads: Sequence[int]) -> list[float] | None:
    """Leads (time steps of the input) in hours, when the input's time stamps are evenly spaced."""
    if times is None or len(times) < 2:
        return None
    spacing = np.diff(np.asarray(times, dtype=np.int64))
    if not (spacing == spacing[0]).all():
        return None
    return [lead * float(spacing[0]) / 3600.0 for lead in leads]


class _ForecastWriter:
    """`forecast` and `truth` (N, L, C, H, W) in physical units, `init_index`, `init_time`, `lead`, and the
    scores as (L, C) datasets `rmse_<forecaster>` / `acc_<forecaster>`; renamed into place when complete."""

    def __init__(self, path: Path, source: FieldSource, leads: list[int], channels: tuple[str, ...]) -> None:
        self.path = path
        self.partial = path.with_name(path.name + ".partial")
        self.file = h5py.File(self.partial, "w")
        self.source = source
        shape = (len(leads), len(channels), *source.grid.shape)
        hours = _lead_hours(source.grid.times, leads)
        for name in ("forecast", "truth"):
            data = self.file.create_dataset(name, shape=(0, *shape), maxshape=(None, *shape), dtype=np.float32, chunks=(1, *shape))
            data.attrs["channels"] = list(channels)
            if hours is not None:  # as in `sciformer score` files, for maps and readers of the file
                data.attrs["lead_hours"] = hours
            if source.grid.units is not None:
                data.attrs["channel_units"] = list(source.grid.units)
        self.file.create_dataset("init_index", shape=(0,), maxshape=(None,), dtype=np.int64)
        self.file.create_dataset("init_time", shape=(0,), maxshape=(None,), dtype=STRING)
        self.file.create_dataset("lead", data=np.asarray(leads, dtype=np.int64))
        for name, values in (("latitude", source.grid.latitudes), ("longitude", source.grid.longitudes)):
            if values is not None:
                self.file.create_dataset(name, data=np.asarray(values))
        self.file.attrs["input"] = str(source.spec.path)
        self.file.attrs["channels"] = list(channels)
        self.rows = 0

    def append(self, inits: np.ndarray, forecasts: np.ndarray, truths: np.ndarray) -> None:
        """Add the forecasts of some initial times (window indices)."""
        count = len(inits)
        for name, values in (("forecast", forecasts), ("truth", truths)):
            self.file[name].resize(self.rows + count, axis=0)
            self.file[name][self.rows :] = values
        labels = [self.source.grid.time_label(int(i)) or "" for i in inits]
        for name, values in (("init_index", inits + self.source.offset), ("init_time", np.array(labels, dtype=object))):
            self.file[name].resize(self.rows + count, axis=0)
            self.file[name][self.rows :] = values
        self.rows += count

    def close(self, result: Evaluation) -> Path:
        """Write the scores and move the file into place."""
        for name in FORECASTERS:
            self.file.create_dataset(f"rmse_{name}", data=result.rmse[name])
            self.file.create_dataset(f"acc_{name}", data=result.acc[name])
        self.file.attrs["summary"] = json.dumps(result.to_dict())
        self.file.attrs["end_time"] = dt.datetime.now(dt.timezone.utc).isoformat()
        self.file.close()
        os.replace(self.partial, self.path)
        return self.path

    def abort(self) -> None:
        """Close and delete the partial file."""
        self.file.close()
        self.partial.unlink(missing_ok=True)
