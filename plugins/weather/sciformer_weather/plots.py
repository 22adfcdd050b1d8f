"""Maps of a forecast, the truth and their difference, side by side in one PNG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import h5py
import numpy as np
from sciformer.errors import ConfigError, InputFileError

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def maps_figure(
    forecast: np.ndarray,
    truth: np.ndarray,
    title: str,
    latitudes: Sequence[float] | None = None,
    longitudes: Sequence[float] | None = None,
    *,
    name: str = "field",
    units: str | None = None,
) -> Figure:
    """Forecast, truth (shared colour scale) and forecast - truth (centred at 0) maps of (H, W) fields of
    channel `name`; the colour bars carry `units` when known."""
    from matplotlib.figure import Figure

    error = forecast - truth
    low, high = np.nanmin([forecast.min(), truth.min()]), np.nanmax([forecast.max(), truth.max()])
    bound = float(np.nanmax(np.abs(error))) or 1.0
    extent = None
    if latitudes is not None and longitudes is not None:
        extent = (min(longitudes), max(longitudes), min(latitudes), max(latitudes))
    origin = "upper" if latitudes is None or latitudes[0] > latitudes[-1] else "lower"
    figure = Figure(figsize=(13, 3.8), layout="constrained")
    axes = figure.subplots(1, 3)
    unit = f" ({units})" if units else ""
    panels = (
        ("forecast", forecast, "viridis", low, high, f"{name}{unit}"),
        ("truth", truth, "viridis", low, high, f"{name}{unit}"),
        ("forecast - truth", error, "RdBu_r", -bound, bound, f"error{unit}"),
    )
    for axis, (panel, values, cmap, vmin, vmax, label) in zip(axes, panels):
        image = axis.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, extent=extent, origin=origin, aspect="auto")
        axis.set_title(panel)
        if extent is not None:
            axis.set_xlabel("longitude (degrees east)")
            axis.set_ylabel("latitude (degrees north)")
        figure.colorbar(image, ax=axis, shrink=0.85, label=label)
    figure.suptitle(title)
    return figure


def maps_from_results(
    results: Path, out: Path, *, row: int = 0, record: str | None = None, lead: int | None = None, channel: str | None = None
) -> Path:
    """Write `results_figure` as the PNG `out`."""
    figure = results_figure(results, row=row, record=record, lead=lead, channel=channel)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    return out


def results_figure(
    results: Path, *, row: int = 0, record: str | None = None, lead: int | None = None, channel: str | None = None
) -> Figure:
    """Maps of one forecast, its truth and their difference, from a results file of `sciformer score`
    written with `--option leads=... --outputs forecast,truth` (or of `sciformer weather evaluate --output`).

    `row` is the file's row (an initial time); `record` picks a record by id instead. `lead` (in time
    steps of the input) defaults to the longest in the file, `channel` to the first. The title gives the
    lead in hours and the colour bars the channel's units when the file records them.
    """
    try:
        handle = h5py.File(results, "r")
    except OSError as error:
        raise InputFileError(f"{results}: not a readable HDF5 file ({error})") from error
    with handle:
        if not {"forecast", "truth", "record_id"} <= set(handle):
            raise InputFileError(
                f"{results}: needs record_id, forecast and truth datasets (`sciformer weather evaluate --output`, or "
                "`sciformer score --option leads=... --outputs forecast,truth`)"
            )
        attributes = handle["forecast"].attrs
        channels = [_text(c) for c in attributes["channels"]]
        leads = [int(v) for v in attributes["leads"]]
        row, start = _score_row(handle, results, row, record)
        lead = leads[-1] if lead is None else lead
        channel = channels[0] if channel is None else channel
        if lead not in leads:
            raise ConfigError(f"lead {lead} is not in {results} (leads: {leads})")
        if channel not in channels:
            raise ConfigError(f"channel {channel!r} is not in {results} (channels: {channels})")
        i, c = leads.index(lead), channels.index(channel)
        forecast, truth = handle["forecast"][row, i, c], handle["truth"][row, i, c]
        hours = attributes.get("lead_hours")
        units = attributes.get("channel_units")
        lat, lon = attributes.get("latitudes"), attributes.get("longitudes")
    if not np.isfinite(truth).any():
        raise ConfigError(f"the forecast from {start} has no truth at lead {lead} (it lies beyond the scored file)")
    unit = _text(units[c]) if units is not None else ""
    when = f"lead {float(hours[i]):g} h" if hours is not None else f"lead {lead} step(s) (hours unknown)"
    rmse = np.sqrt(np.nanmean((forecast - truth) ** 2))
    title = f"{channel}: forecast from {start}, {when}; RMSE (unweighted) {rmse:.3g}{' ' + unit if unit else ''}"
    return maps_figure(forecast, truth, title, lat, lon, name=channel, units=unit or None)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _score_row(handle: h5py.File, results: Path, row: int, record: str | None) -> tuple[int, str]:
    """The row of a results file to draw (by record id when given) and its record id; it must be scored."""
    ids = list(handle["record_id"].asstr()[:])
    if record is not None:
        if record not in ids:
            raise ConfigError(f"record {record!r} is not in {results} (first ids: {ids[:3]})")
        row = ids.index(record)
    if not 0 <= row < len(ids):
        raise ConfigError(f"row {row} outside 0..{len(ids) - 1}")
    status = int(handle["status"][row])
    if status != 0:
        error = handle["error"].asstr()[row] if "error" in handle else ""
        raise ConfigError(f"record {ids[row]!r} was not scored (status {status}{': ' + error if error else ''})")
    return row, ids[row]
