"""Forecast plots of a `sciformer score` results file: for chosen records, each channel's context, truth,
the model's forecast and the baselines, one panel per record and channel.

The results file holds the model's forecasts (and, with `--outputs`, the truth) but not the baselines'
forecasts nor the contexts: those come from the scored input, read again with the reader options the
file records, and the baselines are computed by the scorer's own functions with the file's `season` and
`ets` options.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import h5py
import numpy as np
from sciformer.data.results import STATUS_SCORED
from sciformer.errors import ConfigError, InputFileError
from sciformer.plugins import PluginHost
from sciformer.reading import read_records
from sciformer.records import Record

from .baselines import persistence, seasonal_naive
from .ets import ets_forecast
from .options import DOMAIN
from .scoring import ets_option, season_option
from .tokenizer import fill_missing

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class ScoredWindows:
    """Chosen records of a results file: ids, the model's forecasts (N, H, C), its MSE (N, C) or None,
    channel names, the reader options of the run and the input it scored."""

    ids: tuple[str, ...]
    forecast: np.ndarray
    mse: np.ndarray | None
    channels: tuple[str, ...]
    options: dict
    input: Path


def read_scored(results: Path, records: Sequence[str]) -> ScoredWindows:
    """The `records` (default: the first scored one) of a results file written by a timeseries forecaster."""
    try:
        handle = h5py.File(results, "r")
    except OSError as error:
        raise InputFileError(f"{results}: not a readable HDF5 file ({error})") from None
    with handle:
        domain = json.loads(handle.attrs.get("model_config", "{}")).get("domain")
        if domain != DOMAIN or "forecast" not in handle or "record_id" not in handle:
            written = f"a {domain} model" if domain else "no sciformer model"
            raise ConfigError(
                f"{results} was written by {written}, not a timeseries forecaster: plot the file of "
                "`sciformer score --model FORECASTER` (its `forecast` column)"
            )
        ids = list(handle["record_id"].asstr()[:])
        status = handle["status"][:]
        if not records and not (status == STATUS_SCORED).any():
            raise ConfigError(f"{results} holds no scored record")
        chosen = list(records) or [ids[int(np.argmax(status == STATUS_SCORED))]]
        rows = []
        for record in chosen:
            if record not in ids:
                raise ConfigError(f"record {record!r} is not in {results} ({len(ids)} records, the first {ids[:3]})")
            row = ids.index(record)
            if status[row] != STATUS_SCORED:
                why = handle["error"].asstr()[row] if "error" in handle else ""
                raise ConfigError(f"record {record!r} of {results} was not scored: {why or 'no forecast'}")
            rows.append(row)
        forecast = handle["forecast"]
        channels = tuple(str(c) for c in forecast.attrs.get("channels", range(forecast.shape[-1])))
        mse = np.stack([handle["mse_model"][row] for row in rows]) if "mse_model" in handle else None
        return ScoredWindows(
            tuple(chosen),
            np.stack([forecast[row] for row in rows]),
            mse,
            channels,
            json.loads(handle.attrs.get("reader_options", "{}")),
            Path(handle.attrs.get("input", "")),
        )


def input_windows(host: PluginHost, path: Path, scored: ScoredWindows) -> list[Record]:
    """The records of the chosen windows, read again from the scored input with the run's reader options."""
    if not path.is_file():
        raise InputFileError(
            f"{str(path) or 'the input'}, the input of the results file, is not found: give the scored file with --input"
        )
    wanted = set(scored.ids)
    found = {record.id: record for record in read_records(host, DOMAIN, path, scored.options) if record.id in wanted}
    missing = [record for record in scored.ids if record not in found]
    if missing:
        raise ConfigError(
            f"record(s) {missing} are not windows of {path} read with the run's options {scored.options}: is it the scored input?"
        )
    return [found[record] for record in scored.ids]


def forecast_figure(
    host: PluginHost, results: Path, records: Sequence[str] = (), input_path: Path | None = None, channels: Sequence[str] = ()
) -> Figure:
    """One panel per chosen record and channel: context, truth, the model's forecast and the baselines."""
    from matplotlib.figure import Figure

    scored = read_scored(results, records)
    unknown = [name for name in channels if name not in scored.channels]
    if unknown:
        raise ConfigError(f"channel(s) {unknown} are not in {results} (channels: {list(scored.channels)})")
    shown = [scored.channels.index(name) for name in channels] or list(range(len(scored.channels)))
    windows = input_windows(host, input_path or scored.input, scored)
    context = np.stack([np.asarray(w.data.context, np.float64) for w in windows])  # (N, L, C), NaN where missing
    filled = np.stack([fill_missing(values, np.isfinite(values)) for values in context])  # as the scorer saw it
    horizon = scored.forecast.shape[1]
    if context.shape[2] != scored.forecast.shape[2]:
        raise ConfigError(f"the input's windows have {context.shape[2]} channel(s), the results file {scored.forecast.shape[2]}")
    guesses = {"model": scored.forecast, "persistence": persistence(filled, horizon)}
    season = season_option(scored.options, context.shape[1])
    if season is not None:
        guesses[f"seasonal naive ({season})"] = seasonal_naive(filled, horizon, season)
    if ets_option(scored.options):
        guesses["ETS"] = ets_forecast(filled, horizon, season).values
    figure = Figure(figsize=(5.5 * len(shown), 3.2 * len(windows)), layout="constrained")
    axes = figure.subplots(len(windows), len(shown), squeeze=False)
    past, ahead = np.arange(-context.shape[1], 0), np.arange(horizon)
    for n, window in enumerate(windows):
        for k, c in enumerate(shown):
            axis = axes[n, k]
            axis.plot(past, context[n, :, c], color="black", linewidth=1.0, label="context")
            if window.target is not None:
                axis.plot(
                    ahead,
                    np.asarray(window.target, np.float64)[:, c],
                    color="black",
                    linestyle="--",
                    linewidth=1.0,
                    label="truth",
                )
            for name, guess in guesses.items():
                style = {"linewidth": 2.0} if name == "model" else {"linewidth": 1.0, "alpha": 0.8}
                axis.plot(ahead, guess[n, :, c], label=name, **style)
            axis.axvline(-0.5, color="grey", linewidth=0.5)
            error = f"; model MSE {scored.mse[n, c]:.3g}" if scored.mse is not None and np.isfinite(scored.mse[n, c]) else ""
            axis.set_title(f"{scored.ids[n]}, {scored.channels[c]}{error}", fontsize=9)
            axis.set_xlabel("steps from the forecast origin")
    axes[0, 0].legend(fontsize=7)
    return figure


def plot_forecasts(
    host: PluginHost,
    results: Path,
    out: Path,
    records: Sequence[str] = (),
    input_path: Path | None = None,
    channels: Sequence[str] = (),
) -> Path:
    """Write `forecast_figure` as the PNG `out`."""
    figure = forecast_figure(host, results, records, input_path, channels)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=100)
    return out
