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


def maps_from_evaluation(results: Path, out: Path, *, init: int = 0, lead: int | None = None, channel: str | None = None) -> Path:
    """A PNG of row `init`, lead time `lead` (default the longest) and `channel` (default the first) of an
    evaluation file written by `sciformer weather evaluate`."""
    try:
        handle = h5py.File(results, "r")
    except OSError as error:
        raise InputFileError(f"{results}: not a readable HDF5 file ({error})") from error
    with handle:
        if "forecast" not in handle or "truth" not in handle:
            raise InputFileError(f"{results}: not an evaluation file (needs forecast and truth datasets)")
        channels = [str(c) for c in handle.attrs["channels"]]
        leads = [int(v) for v in handle["lead"][:]]
        lead = leads[-1] if lead is None else lead
        channel = channels[0] if channel is None else channel
        if lead not in leads:
            raise ConfigError(f"lead {lead} not in the evaluation (leads: {leads})")
        if channel not in channels:
            raise ConfigError(f"channel {channel!r} not in the evaluation (channels: {channels})")
        if not 0 <= init < handle["forecast"].shape[0]:
            raise ConfigError(f"init {init} outside 0..{handle['forecast'].shape[0] - 1}")
        i, c = leads.index(lead), channels.index(channel)
        forecast, truth = handle["forecast"][init, i, c], handle["truth"][init, i, c]
        when = handle["init_time"][init]
        when = when.decode() if isinstance(when, bytes) else str(when)
        start = when or f"index {int(handle['init_index'][init])}"
        lat = handle["latitude"][:] if "latitude" in handle else None
        lon = handle["longitude"][:] if "longitude" in handle else None
    title = f"{channel}: forecast from {start}, lead {lead} step(s); RMSE (unweighted) {np.sqrt(np.mean((forecast - truth) ** 2)):.3g}"
    return save_maps(forecast, truth, out, title, lat, lon)
