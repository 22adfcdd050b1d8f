"""Maps of a forecast, the truth and their difference, side by side in one PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import h5py
import numpy as np

from sciformer.errors import ConfigError, InputFileError


def save_maps(forecast: np.ndarray, truth: np.ndarray, path: Path, title: str, latitudes: Sequence[float] | None = None, longitudes: Sequence[float] | None = None) -> Path:
    """Write forecast, truth (shared colour scale) and forecast - truth (centred at 0) maps of (H, W) fields."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    error = forecast - truth
    low, high = np.nanmin([forecast.min(), truth.min()]), np.nanmax([forecast.max(), truth.max()])
    bound = float(np.nanmax(np.abs(error))) or 1.0
    extent = None
    if latitudes is not None and longitudes is not None:
        extent = (min(longitudes), max(longitudes), min(latitudes), max(latitudes))
    origin = "upper" if latitudes is None or latitudes[0] > latitudes[-1] else "lower"
    figure, axes = plt.subplots(1, 3, figsize=(13, 3.8), constrained_layout=True)
    panels = (("forecast", forecast, "viridis", low, high), ("truth", truth, "viridis", low, high), ("forecast - truth", error, "RdBu_r", -bound, bound))
    for axis, (name, values, cmap, vmin, vmax) in zip(axes, panels):
        image = axis.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, extent=extent, origin=origin, aspect="auto")
        axis.set_title(name)
        if extent is not None:
            axis.set_xlabel("longitude")
            axis.set_ylabel("latitude")
        figure.colorbar(image, ax=axis, shrink=0.85)
    figure.suptitle(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def maps_from_results(results: Path, out: Path, *, row: int = 0, record: str | None = None, lead: int | None = None, channel: str | None = None) -> Path:
    """A PNG of one forecast, its truth and their difference, from an evaluation file of `sciformer weather
    evaluate` or a results file of `sciformer score` written with `--option leads=... --outputs forecast,truth`.

    `row` is the file's row (an initial time); in a score file `record` picks a record by id instead.
    `lead` defaults to the longest in the file, `channel` to the first.
    """
    try:
        handle = h5py.File(results, "r")
    except OSError as error:
        raise InputFileError(f"{results}: not a readable HDF5 file ({error})") from error
    with handle:
        if "forecast" not in handle or "truth" not in handle:
            raise InputFileError(
                f"{results}: needs forecast and truth datasets (`sciformer weather evaluate --output`, or "
                "`sciformer score --option leads=... --outputs forecast,truth`)"
            )
        if "record_id" in handle:
            channels = [str(c) for c in handle["forecast"].attrs["channels"]]
            leads = [int(v) for v in handle["forecast"].attrs["leads"]]
            row, start = _score_row(handle, results, row, record)
        else:
            channels = [str(c) for c in handle.attrs["channels"]]
            leads = [int(v) for v in handle["lead"][:]]
            _check_row(row, handle["forecast"].shape[0])
            when = handle["init_time"][row]
            start = (when.decode() if isinstance(when, bytes) else str(when)) or f"index {int(handle['init_index'][row])}"
        lead = leads[-1] if lead is None else lead
        channel = channels[0] if channel is None else channel
        if lead not in leads:
            raise ConfigError(f"lead {lead} is not in {results} (leads: {leads})")
        if channel not in channels:
            raise ConfigError(f"channel {channel!r} is not in {results} (channels: {channels})")
        i, c = leads.index(lead), channels.index(channel)
        forecast, truth = handle["forecast"][row, i, c], handle["truth"][row, i, c]
        coordinates = handle["forecast"].attrs if "record_id" in handle else {}
        lat = handle["latitude"][:] if "latitude" in handle else coordinates.get("latitudes")
        lon = handle["longitude"][:] if "longitude" in handle else coordinates.get("longitudes")
    if not np.isfinite(truth).any():
        raise ConfigError(f"the forecast from {start} has no truth at lead {lead} (it lies beyond the scored file)")
    title = f"{channel}: forecast from {start}, lead {lead} step(s); RMSE (unweighted) {np.sqrt(np.nanmean((forecast - truth) ** 2)):.3g}"
    return save_maps(forecast, truth, out, title, lat, lon)


def _check_row(row: int, count: int) -> None:
    if not 0 <= row < count:
        raise ConfigError(f"row {row} outside 0..{count - 1}")


def _score_row(handle: h5py.File, results: Path, row: int, record: str | None) -> tuple[int, str]:
    """The row of a score file to draw (by record id when given) and its record id; it must be scored."""
    ids = list(handle["record_id"].asstr()[:])
    if record is not None:
        if record not in ids:
            raise ConfigError(f"record {record!r} is not in {results} (first ids: {ids[:3]})")
        row = ids.index(record)
    _check_row(row, len(ids))
    status = int(handle["status"][row])
    if status != 0:
        error = handle["error"].asstr()[row] if "error" in handle else ""
        raise ConfigError(f"record {ids[row]!r} was not scored (status {status}{': ' + error if error else ''})")
    return row, ids[row]
