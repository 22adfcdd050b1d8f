"""A weather results file of `sciformer score` as CF-convention netCDF, for xarray.

Only scored rows (status 0) are written. Their initial times make the `time` dimension (CF
`forecast_reference_time`) when every one is known, else a `record` dimension; `record_id` labels it
either way. Leads are the `lead` dimension, a duration (`forecast_period`) written in hours when the
model's step has a duration, else lead steps of the input. Variables:

    <channel>            (time, lead, latitude, longitude)  the forecast, in the channel's units
    <channel>_truth      (time, lead, latitude, longitude)  the truth, when it was scored with `truth`
    rmse_<forecaster>    (time, lead, channel)              per-record skill, when scored with `leads`
    acc_<forecaster>     (time, lead, channel)
    skill_<metric>       (lead, channel)                    the file's means (`skill/` group)
    skill_samples        (lead,)

with `valid_time` (time, lead) = initial time + lead, `latitude` / `longitude` in degrees and `channel`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np
import xarray as xr
from sciformer.data.results import STATUS_SCORED
from sciformer.errors import InputFileError

from .cf import CONVENTIONS, grid_coordinates, instants
from .scoring import SKILL_GROUP

SKILL_PREFIXES = ("rmse_", "acc_")
PROVENANCE = ("input", "checkpoint", "reader_options", "sciformer_version", "plugin_version", "start_time", "end_time")


def export_netcdf(results_h5: Path, target: Path) -> None:
    """Write the weather results file `results_h5` as CF netCDF4 `target` (the exporter of `.nc` outputs;
    the host writes it under a temporary name)."""
    results_dataset(Path(results_h5)).to_netcdf(Path(target), engine="h5netcdf")


def results_dataset(path: Path) -> xr.Dataset:
    """The scored rows of a weather results file as a CF dataset, held in memory."""
    try:
        results = h5py.File(path, "r")
    except OSError as error:
        raise InputFileError(f"{path}: not a readable results file ({error})") from error
    with results:
        columns = [name for name in ("forecast", "truth") if name in results] + [n for n in results if n.startswith(SKILL_PREFIXES)]
        if not columns or "status" not in results:
            raise InputFileError(f"{path}: not a weather results file (no `forecast`, `truth` or skill column beside `status`)")
        described = results[columns[0]].attrs  # channels, leads and, on fields, their units and coordinates
        channels = [_text(c) for c in described["channels"]]
        units = [_text(u) for u in described.get("channel_units", [""] * len(channels))]
        scored = results["status"][:] == STATUS_SCORED  # (N,)
        times = results["init_time"][:][scored] if "init_time" in results else None
        row = "time" if times is not None and np.isfinite(times).all() else "record"
        coordinates: dict[str, Any] = {
            "record_id": (row, [_text(i) for i in results["record_id"][:][scored]], {"long_name": "record id"}),
            "channel": ("channel", channels, {"long_name": "channel"}),
            **_lead_coordinates(described),
            **grid_coordinates(described.get("latitudes"), described.get("longitudes")),
        }
        if row == "time":
            coordinates["time"] = ("time", instants(times), {"standard_name": "forecast_reference_time", "long_name": "initial time"})
        variables = {**_field_variables(results, scored, row, channels, units), **_skill_variables(results, scored, row, units)}
        attributes = {"Conventions": CONVENTIONS, "title": "sciformer weather forecasts", "source": "sciformer score"}
        attributes.update({key: _text(results.attrs[key]) for key in PROVENANCE if key in results.attrs})
        attributes["rows_not_scored"] = int((~scored).sum())
    dataset = xr.Dataset(variables, coordinates, attrs=attributes)
    if np.issubdtype(dataset["lead"].dtype, np.timedelta64):
        dataset["lead"].encoding["units"] = "hours"
        if row == "time":
            valid = (dataset["time"] + dataset["lead"]).assign_attrs(standard_name="time", long_name="valid time")
            dataset = dataset.assign_coords(valid_time=valid)
    return dataset


def _field_variables(results: h5py.File, scored: np.ndarray, row: str, channels: list[str], units: list[str]) -> dict[str, Any]:
    """`<channel>` (forecast) and `<channel>_truth` (row, lead, latitude, longitude), those in the file."""
    variables = {}
    for column, suffix in (("forecast", ""), ("truth", "_truth")):
        if column in results:
            values = results[column][:][scored]  # (N, L, C, H, W)
            for c, (name, unit) in enumerate(zip(channels, units)):
                attributes = {"long_name": f"{column} of {name}", **({"units": unit} if unit else {})}
                variables[f"{name}{suffix}"] = ((row, "lead", "latitude", "longitude"), values[:, :, c], attributes)
    return variables


def _skill_variables(results: h5py.File, scored: np.ndarray, row: str, units: list[str]) -> dict[str, Any]:
    """Per-record skill (row, lead, channel) and the file's means `skill_<name>` (lead, channel), `skill_samples` (lead,)."""
    common = units[0] if len(set(units)) == 1 and units[0] else None  # RMSE units, when every channel shares them
    variables: dict[str, Any] = {}
    for name in (n for n in results if n.startswith(SKILL_PREFIXES)):
        variables[name] = ((row, "lead", "channel"), results[name][:][scored], _skill_attributes(name, common))
    for name, means in results.get(SKILL_GROUP, {}).items():
        if name == "samples":
            variables["skill_samples"] = ("lead", means[:], {"long_name": "scored rows with a truth at each lead"})
        else:
            variables[f"skill_{name}"] = (("lead", "channel"), means[:], _skill_attributes(name, common, "mean "))
    return variables


def _lead_coordinates(attributes: h5py.AttributeManager) -> dict[str, Any]:
    """`lead` (a duration when `lead_hours` is known, else steps) and `lead_step` (steps of the input)."""
    steps = np.asarray(attributes["leads"], dtype=np.int64)
    coordinates: dict[str, Any] = {"lead_step": ("lead", steps, {"long_name": "lead time in time steps of the input"})}
    if "lead_hours" in attributes:
        seconds = np.round(np.asarray(attributes["lead_hours"], dtype=np.float64) * 3600).astype(np.int64)
        coordinates["lead"] = ("lead", seconds.astype("timedelta64[s]"), {"standard_name": "forecast_period", "long_name": "lead time"})
    else:
        coordinates["lead"] = ("lead", steps, {"long_name": "lead time in time steps of the input", "units": "1"})
    return coordinates


def _skill_attributes(name: str, units: str | None, prefix: str = "") -> dict[str, str]:
    """Long name and units of a skill column: RMSE in the channels' common units, ACC dimensionless."""
    metric, forecaster = name.split("_", 1)
    if metric == "acc":
        return {"long_name": f"{prefix}latitude-weighted anomaly correlation of the {forecaster} forecast", "units": "1"}
    return {"long_name": f"{prefix}latitude-weighted RMSE of the {forecaster} forecast", **({"units": units} if units else {})}


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
