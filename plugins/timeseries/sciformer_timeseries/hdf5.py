"""Series from HDF5 (and netCDF-4) files through h5py: every grid point or station is a series.

Each chosen variable (option `variables`, default every numeric dataset whose first axis is time, the
coordinates left out) becomes a channel; variables share their shape (time, ...), and each index of the
trailing axes is one series, named by that index (`12,30`). Values equal to a variable's `_FillValue` or
`missing_value` are missing (NaN). Time stamps come from `time_dataset` (CF units such as
`hours since 1970-01-01` are decoded to ISO times), else the time index; when they do not strictly
increase (`time_order`), every window of the file is a bad record naming the first offending step. A
variable is read whole, once; windows are views of it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from sciformer.errors import InputFileError

from .series import Series
from .time_order import order_problem

log = logging.getLogger(__name__)

CF_UNITS = {"seconds": "s", "second": "s", "minutes": "m", "minute": "m", "hours": "h", "hour": "h", "days": "D", "day": "D"}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def time_labels(dataset: h5py.Dataset) -> tuple[str, ...]:
    """ISO minute labels of a CF time coordinate, or its values as text when its units are not `UNIT since DATE`."""
    values = dataset[()]
    unit, _, origin = _text(dataset.attrs.get("units", "")).partition(" since ")
    if unit.strip() in CF_UNITS and origin:
        try:
            base = np.datetime64(origin.strip().replace(" ", "T")[:19])
            stamps = base + np.round(values.astype(np.float64)).astype(np.int64).astype(f"timedelta64[{CF_UNITS[unit.strip()]}]")
            return tuple(str(stamp)[:16] for stamp in stamps.astype("datetime64[m]"))
        except ValueError:
            pass
    return tuple(_text(v) for v in values)


def _is_coordinate(dataset: h5py.Dataset) -> bool:
    return _text(dataset.attrs.get("CLASS", "")) == "DIMENSION_SCALE"


def choose_variables(file: h5py.File, options: Mapping[str, Any], time_name: str | None) -> list[str]:
    """The datasets that become channels: option `variables`, else every numeric non-coordinate dataset
    with a leading time axis (the time dataset's length when there is one)."""
    if options.get("variables"):
        names = [name.strip() for name in str(options["variables"]).split(",") if name.strip()]
        missing = [name for name in names if not isinstance(file.get(name), h5py.Dataset)]
        if missing:
            raise InputFileError(f"{file.filename}: dataset(s) {missing} not found")
        return names
    length = file[time_name].shape[0] if time_name else None
    names = []
    file.visititems(
        lambda name, item: (
            names.append(name)
            if isinstance(item, h5py.Dataset)
            and item.ndim >= 1
            and item.dtype.kind in "fiu"
            and not _is_coordinate(item)
            and name != time_name
            and (length is None or item.shape[0] == length)
            else None
        )
    )
    if not names:
        raise InputFileError(f"{file.filename}: no (time, ...) numeric dataset to read series from")
    return names


def read_variable(dataset: h5py.Dataset) -> np.ndarray:
    """A (time, ...) dataset -> (time, points) float32, fill values as NaN."""
    values = dataset[()].astype(np.float32)
    for key in ("_FillValue", "missing_value"):
        if key in dataset.attrs:
            fill = np.asarray(dataset.attrs[key], dtype=np.float32).reshape(-1)
            if fill.size and np.isfinite(fill[0]):
                values[values == fill[0]] = np.nan
    return values.reshape(values.shape[0], -1)


def read_hdf5_series(path: Path, options: Mapping[str, Any]) -> Iterator[Series]:
    """The series of an HDF5 / netCDF-4 file; options as `reader_options.HDF5_OPTIONS`."""
    with h5py.File(path, "r") as file:
        time_name = options.get("time_dataset") or ("time" if isinstance(file.get("time"), h5py.Dataset) else None)
        if time_name and not isinstance(file.get(time_name), h5py.Dataset):
            raise InputFileError(f"{path}: time dataset {time_name!r} not found")
        variables = choose_variables(file, options, time_name)
        shapes = {name: file[name].shape for name in variables}
        if len(set(shapes.values())) > 1:
            raise InputFileError(f"{path}: the variables have different shapes {shapes}; choose some with the option `variables`")
        grid = shapes[variables[0]][1:]
        times = time_labels(file[time_name]) if time_name else None
        order = time_order(file[time_name], times) if time_name else None
        data = np.stack([read_variable(file[name]) for name in variables], axis=-1)  # (T, P, C)
    if order:
        log.warning("%s: %s; the windows of its %d series are bad records", path, order, data.shape[1])
    channels = tuple(name.rsplit("/", 1)[-1] for name in variables)
    for point in range(data.shape[1]):
        name = ",".join(str(i) for i in np.unravel_index(point, grid)) if grid else "0"
        yield Series(name, data[:, point, :], channels, times, problem=order)


def time_order(dataset: h5py.Dataset, labels: tuple[str, ...]) -> str | None:
    """Why the time dataset does not strictly increase (its numbers compared, else its labels), naming the step; else None."""
    values = dataset[()]
    numeric = values.ndim == 1 and values.dtype.kind in "fiu"
    return order_problem(labels, lambda step: f"time step {step}", values.astype(np.float64) if numeric else None)
